"""Staff directory sign-in against a real slapd started here and a local OpenID Connect
provider, besides local accounts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pyotp
import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role, add_user
from bridge.storage.db import unit_of_work
from bridge.web.app import create_app
from bridge.web.security import SESSION_KEY
from sip2.acs.server import ReferenceACS
from tests.access import ldap_server
from tests.access.conftest import access_config, audits
from tests.access.oidc_provider import CLIENT_ID, Provider
from tests.web.conftest import PASSWORD, Account, csrf_from, sign_in

ROLES = {"lockers-staff": "staff", "lockers-admins": "admin", "lockers-viewers": "viewer"}
PEOPLE = {"libby": "libby-password-1", "otto": "otto-password-1"}
GROUPS = {"lockers-staff": ["libby"], "lockers-viewers": ["libby"], "catalogers": ["otto"]}
SUFFIX = ldap_server.SUFFIX


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[str]:
    if not ldap_server.available():
        pytest.skip("slapd is not installed (scripts/system-deps.sh installs it)")
    root = tmp_path / "ldap"
    root.mkdir()
    with ldap_server.running_slapd(root, PEOPLE, GROUPS) as url:
        yield url


@pytest.fixture
def provider() -> Iterator[Provider]:
    op = Provider()
    yield op
    op.close()


@pytest.fixture
def access_settings(
    tmp_path: Path, acs: ReferenceACS, request: pytest.FixtureRequest, provider: Provider
) -> Settings:
    ldap_url = request.getfixturevalue("slapd") if "slapd" in request.fixturenames else None
    directory: dict[str, Any] = {"roles": ROLES, "recheck_minutes": 5}
    directory["ldap"] = {
        "url": ldap_url or "ldap://127.0.0.1:9",  # port 9 (discard): nobody answers
        "bind_dn": ldap_server.ADMIN_DN,
        "bind_password": ldap_server.ADMIN_PASSWORD,
        "user_base": f"ou=people,{SUFFIX}",
        "group_base": f"ou=groups,{SUFFIX}",
        "timeout_seconds": 2,
    }
    directory["oidc"] = {"issuer": provider.issuer, "client_id": CLIENT_ID}
    return load_settings(None, **access_config(tmp_path, acs, directory=directory))


def _client(rt: Runtime) -> FlaskClient:
    app = create_app(rt.settings, rt)
    app.config["TESTING"] = True
    return app.test_client()


def _ldap_sign_in(client: FlaskClient, username: str, password: str) -> Any:
    page = client.get("/staff/directory/ldap").get_data(as_text=True)
    return client.post(
        "/staff/directory/ldap",
        data={"username": username, "password": password, "csrf_token": csrf_from(page)},
    )


def _refresh_due(rt: Runtime) -> None:
    for key in rt.redis.scan_iter(SESSION_KEY.format(sid="*")):
        rt.redis.hset(key, "checked_at", time.time() - 3600)


def test_a_directory_person_signs_in_with_ldap_and_gets_the_role_of_their_groups(
    rt: Runtime, slapd: str
) -> None:
    client = _client(rt)
    assert "Sign in with the library directory" in client.get("/staff/login").get_data(as_text=True)

    resp = _ldap_sign_in(client, "libby", PEOPLE["libby"])

    assert resp.status_code == 302, resp.get_data(as_text=True)
    status = client.get("/staff/")
    assert status.status_code == 200 and "ldap:libby (staff)" in status.get_data(as_text=True)
    [event] = audits(rt, "staff_sign_in")
    assert event.detail["via"] == "ldap" and event.detail["role"] == "staff"


def test_a_wrong_ldap_password_or_an_unmapped_person_gets_nothing(rt: Runtime, slapd: str) -> None:
    client = _client(rt)
    assert _ldap_sign_in(client, "libby", "not-her-password").status_code == 401
    assert _ldap_sign_in(client, "libby", "").status_code in (400, 401)  # no anonymous bind
    refused = _ldap_sign_in(client, "otto", PEOPLE["otto"])
    assert refused.status_code == 403
    assert "not in a group" in refused.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    assert audits(rt, "staff_sign_in_refused")[0].detail["reason"] == "no mapped group"


def test_a_person_removed_from_the_group_loses_access_at_the_next_session_refresh(
    rt: Runtime, slapd: str
) -> None:
    client = _client(rt)
    assert _ldap_sign_in(client, "libby", PEOPLE["libby"]).status_code == 302
    admin = ldap3.Connection(
        ldap3.Server(slapd), ldap_server.ADMIN_DN, ldap_server.ADMIN_PASSWORD, auto_bind=True
    )
    nobody = f"uid=nobody,ou=people,{SUFFIX}"  # groupOfNames needs at least one member
    for group in ("lockers-staff", "lockers-viewers"):
        assert admin.modify(
            f"cn={group},ou=groups,{SUFFIX}", {"member": [(ldap3.MODIFY_REPLACE, [nobody])]}
        )

    assert client.get("/staff/").status_code == 200  # not due yet: at most every N minutes
    _refresh_due(rt)

    resp = client.get("/staff/")
    assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]
    assert audits(rt, "staff_directory_revoked")


def test_a_directory_that_is_down_gets_a_clear_message_and_local_admins_still_sign_in(
    rt: Runtime,
) -> None:
    client = _client(rt)

    resp = _ldap_sign_in(client, "libby", PEOPLE["libby"])

    assert resp.status_code == 503
    assert "not answering" in resp.get_data(as_text=True)
    assert audits(rt, "staff_directory_down")[0].detail["during"] == "sign-in"
    with unit_of_work(rt.sessions) as s:
        user, uri = add_user(s, "local-admin", PASSWORD, Role.ADMIN, totp=True, settings=rt.settings)
    assert uri is not None
    sign_in(client, Account(user.username, PASSWORD, Role.ADMIN, pyotp.parse_uri(uri)))
    assert "local-admin (admin)" in client.get("/staff/").get_data(as_text=True)


@pytest.mark.browser
def test_staff_sign_in_with_single_sign_on_in_the_browser(
    rt: Runtime, provider: Provider, live_url: str, page: Page
) -> None:
    provider.groups = {"olga": ["lockers-admins"]}
    provider.person = "olga"
    provider.amr = ["pwd", "otp"]

    page.goto(f"{live_url}/staff/login")
    page.get_by_role("link", name="Sign in with single sign-on").click()

    expect(page.get_by_text("oidc:olga (admin)")).to_be_visible()
    assert audits(rt, "staff_sign_in")[0].detail["via"] == "oidc"


def _oidc_sign_in(client: FlaskClient) -> Any:
    import requests

    start = client.get("/staff/directory/oidc/start")
    assert start.status_code == 302
    authorize = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    back = authorize.headers["Location"].removeprefix("http://localhost")
    return client.get(back)


def test_an_admin_without_a_second_factor_at_the_provider_gets_only_the_staff_role(
    rt: Runtime, provider: Provider
) -> None:
    provider.groups = {"olga": ["lockers-admins"]}
    provider.person = "olga"
    client = _client(rt)

    assert _oidc_sign_in(client).status_code == 302

    assert "oidc:olga (staff)" in client.get("/staff/").get_data(as_text=True)


def test_an_id_token_signed_with_another_key_is_refused(rt: Runtime, provider: Provider) -> None:
    provider.groups = {"olga": ["lockers-staff"]}
    provider.person = "olga"
    provider.sign_with_rogue_key = True
    client = _client(rt)

    resp = _oidc_sign_in(client)

    assert resp.status_code == 401
    assert client.get("/staff/").status_code == 302
    assert "signature" in audits(rt, "staff_sign_in_failed")[0].detail["reason"].lower()


def test_a_person_removed_at_the_provider_is_signed_out_at_the_next_refresh(
    rt: Runtime, provider: Provider
) -> None:
    provider.groups = {"olga": ["lockers-staff"]}
    provider.person = "olga"
    client = _client(rt)
    assert _oidc_sign_in(client).status_code == 302
    assert client.get("/staff/").status_code == 200

    del provider.groups["olga"]
    _refresh_due(rt)

    assert client.get("/staff/").status_code == 302
    assert audits(rt, "staff_directory_revoked")
