"""Reports against known data made by the real flows on a clock the test moves: pickups,
returns, holds not collected, the wait from loading to pickup, doors out of service, CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.runtime import Runtime
from bridge.services.expiry import run_expiry
from bridge.services.pickup import pickup_with_code
from bridge.services.staff.accounts import Role, StaffUser
from bridge.storage.db import unit_of_work
from bridge.storage.tables.returns import DepositRow
from bridge.web.staff.actions import set_out_of_service
from tests.support.clock import START, Clock
from tests.web.conftest import Account, load_for_pickup, sign_in


@pytest.fixture
def clock() -> Clock:
    return Clock(START)  # Monday 10 March 2025, 09:00 UTC


def test_a_fortnight_of_known_events_adds_up(
    rt: Runtime, clock: Clock, ils: Any, doors: Any, client: FlaskClient,
    accounts: dict[Role, Account],
) -> None:
    # Monday: two holds loaded at the main bank; one is collected three hours later.
    a = load_for_pickup(rt, ils, doors, "39000000001001", title="Alpha")
    ils.add_patron("21000005", "5555")
    load_for_pickup(rt, ils, doors, "39000000001002", title="Beta", patron="21000005")
    clock.advance(hours=3)
    assert pickup_with_code(rt, "main-lobby", a.code).opened == (a.compartment,)
    # Tuesday: two returns at the east bank, one at the main bank.
    clock.advance(days=1)
    with unit_of_work(rt.sessions) as s:
        for n, bank in enumerate(("east-station", "east-station", "main-lobby")):
            s.add(DepositRow(bank_id=bank, compartment=1, item_barcode=f"3900000000200{n}",
                             deposited_at=clock(), state="checked_in"))
    # The other hold is never collected: it expires after the hold-shelf days.
    clock.advance(days=rt.settings.bank("main-lobby").hold_shelf_days + 1)
    run_expiry(rt)
    expired_day = clock().date()
    admin = StaffUser(1, "admin-1", Role.ADMIN, True)
    set_out_of_service(rt, admin, "east-station", 2, True, "hinge broken")

    sign_in(client, accounts[Role.VIEWER])
    period = {"from": "2025-03-10", "to": expired_day.isoformat()}
    page = client.get("/staff/reports", query_string=period).get_data(as_text=True)
    assert "East station, door 2" in page and "Doors out of service now (1)" in page
    rows = list(csv.DictReader(io.StringIO(
        client.get("/staff/reports.csv", query_string=period).get_data(as_text=True)
    )))
    by = {(r["day"], r["bank"]): r for r in rows}
    days = (expired_day - START.date()).days + 1
    assert len(rows) == 2 * days  # every day of every bank, quiet days as zeros
    monday = by[("2025-03-10", "Main Library lobby")]
    assert (monday["pickups"], monday["median_wait_hours"]) == ("1", "3")
    assert by[("2025-03-11", "East station")]["returns"] == "2"
    assert by[("2025-03-11", "Main Library lobby")]["returns"] == "1"
    assert by[(expired_day.isoformat(), "Main Library lobby")]["not_collected"] == "1"
    assert sum(int(r["pickups"]) for r in rows) == 1
    assert sum(int(r["returns"]) for r in rows) == 3
    assert sum(int(r["not_collected"]) for r in rows) == 1
