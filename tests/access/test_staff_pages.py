"""Staff pages of access: code re-issue from the status page."""

from __future__ import annotations

from flask.testing import FlaskClient

from bridge.runtime import Runtime
from bridge.services.pickup import PickupOutcome, pickup_with_code
from bridge.services.staff.accounts import Role, add_user
from bridge.storage.db import unit_of_work
from bridge.web.app import create_app
from tests.access.conftest import ANA_ITEM, audits, load_hold, messages
from tests.web.conftest import PASSWORD, Account, csrf_from, sign_in


def signed_in_client(rt: Runtime, role: Role = Role.STAFF) -> FlaskClient:
    with unit_of_work(rt.sessions) as s:
        user, _ = add_user(s, "ann", PASSWORD, role, totp=False)
    app = create_app(rt.settings, rt)
    app.config["TESTING"] = True
    client = app.test_client()
    sign_in(client, Account(user.username, PASSWORD, role, None))
    return client


def test_staff_re_issue_a_code_for_a_compartment_with_a_reason(rt: Runtime) -> None:
    door = load_hold(rt, ANA_ITEM)
    old = messages(rt)[0].secrets["code"]  # type: ignore[index]
    client = signed_in_client(rt)
    token = csrf_from(client.get("/staff/access/dayuse").get_data(as_text=True))

    refused = client.post(
        "/staff/access/reissue",
        data={"bank_id": "main-lobby", "compartment": door, "reason": "", "csrf_token": token},
    )
    assert refused.status_code == 400 and "Give a reason" in refused.get_data(as_text=True)
    resp = client.post(
        "/staff/access/reissue",
        data={
            "bank_id": "main-lobby",
            "compartment": door,
            "reason": "patron lost the message",
            "csrf_token": token,
        },
    )

    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "old code no longer works" in resp.get_data(as_text=True)
    assert pickup_with_code(rt, "main-lobby", old).outcome is PickupOutcome.DENIED
    assert audits(rt, "access_reissued")[0].actor == "staff:ann"


def test_a_viewer_cannot_re_issue_codes(rt: Runtime) -> None:
    door = load_hold(rt, ANA_ITEM)
    client = signed_in_client(rt, Role.VIEWER)
    token = csrf_from(client.get("/staff/access/dayuse").get_data(as_text=True))
    resp = client.post(
        "/staff/access/reissue",
        data={"bank_id": "main-lobby", "compartment": door, "reason": "x", "csrf_token": token},
    )
    assert resp.status_code == 403
    assert audits(rt, "access_reissued") == []
