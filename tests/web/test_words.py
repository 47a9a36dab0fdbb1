"""What staff read: full dates in the site's format and each bank's zone, and refused or
missing pages that say so in words (while machine paths keep their plain answers)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role
from tests.web.conftest import Account, load_for_pickup, sign_in


def test_door_page_writes_full_dates_in_the_banks_zone(
    rt: Runtime, ils: Any, doors: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "39000000000444", title="Salt")
    sign_in(client, accounts[Role.STAFF])
    page = client.get(f"/staff/banks/main-lobby/{loaded.compartment}").get_data(as_text=True)
    zone = ZoneInfo(rt.settings.bank("main-lobby").timezone)
    today = rt.clock().astimezone(zone)
    assert f"since {today:%d %b %Y} " in page  # the year is there


def test_refused_and_missing_pages_are_explained(
    client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    sign_in(client, accounts[Role.VIEWER])
    refused = client.get("/staff/audit")
    assert refused.status_code == 403
    body = refused.get_data(as_text=True)
    assert "<h1>Not allowed</h1>" in body and 'href="/staff/"' in body
    missing = client.get("/staff/no-such-page")
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and "staff" not in api.get_data(as_text=True)


def test_a_real_installation_has_no_demo_messages_page(
    client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    sign_in(client, accounts[Role.STAFF])  # demo_mailbox is not set outside the demo
    assert client.get("/staff/demo/messages").status_code == 404
    assert "Messages sent" not in client.get("/staff/work").get_data(as_text=True)
