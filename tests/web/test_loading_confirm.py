"""The loading screen asks the catalogue before it checks anything in: an item no hold waits for
is checked in only when staff confirm. Real SIP2 over TCP to the reference ACS (Koha: item
information's hold count covers the whole title)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from tests.web.conftest import Account, csrf_from, sign_in

LOAD = "/staff/banks/main-lobby/load"
ASK = "No hold waits here for this item — check it in anyway?"


def _scan(client: FlaskClient, barcode: str, **extra: str) -> str:
    page = client.get(LOAD).get_data(as_text=True)
    resp = client.post(LOAD, data={"barcode": barcode, "csrf_token": csrf_from(page), **extra})
    assert resp.status_code == 302
    return client.get(LOAD).get_data(as_text=True)


def test_a_shelf_item_with_no_hold_is_checked_in_only_after_staff_confirm(
    rt: Runtime, acs: Any, doors: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    sign_in(client, accounts[Role.STAFF])
    # Middlemarch (39000000000002) sits on the shelf; nobody holds it.
    page = _scan(client, "39000000000002")
    assert ASK in page
    assert 'name="confirm" value="checkin"' in page
    assert acs.ledger.checkins("39000000000002") == []  # the catalogue was only asked
    assert not any(doors["main-lobby"].is_open(n) for n in range(1, 17))
    # Scanning it again is still a question, never a check-in.
    assert ASK in _scan(client, "39000000000002")
    assert acs.ledger.checkins("39000000000002") == []

    # Staff confirm: now it is checked in at the bank's branch, and no door opens for it.
    page = _scan(client, "39000000000002", confirm="checkin")
    assert ASK not in page.split('id="scans-h"')[0]
    [checkin] = acs.ledger.checkins("39000000000002")
    assert checkin.location == "MAIN-LOCKER"
    assert not any(doors["main-lobby"].is_open(n) for n in range(1, 17))
    with unit_of_work(rt.sessions) as s:
        reasons = [
            (e.detail or {}).get("reason")
            for e in s.scalars(
                select(AuditEventRow).where(
                    AuditEventRow.kind == "scan_refused", AuditEventRow.item == "39000000000002"
                )
            )
        ]
    assert reasons.count("no_hold_unconfirmed") == 2


def test_an_item_a_hold_waits_for_is_loaded_without_a_question(
    rt: Runtime, acs: Any, doors: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    sign_in(client, accounts[Role.STAFF])
    # Ana's hold H1 for this bank: the hold count says so, the check-in captures it.
    page = _scan(client, "39000000000001")
    assert ASK not in page
    assert "is open — put the item in and close the door" in page
    assert len(acs.ledger.checkins("39000000000001")) == 1


def test_viewers_cannot_confirm_a_check_in(
    acs: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/").get_data(as_text=True)
    resp = client.post(
        LOAD,
        data={"barcode": "39000000000002", "confirm": "checkin", "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 403
    assert acs.ledger.checkins("39000000000002") == []
