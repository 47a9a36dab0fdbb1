"""Hold-shelf expiry, staff removal and equipment lending with the in-memory ILS."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.equipment import (
    BorrowOutcome,
    BorrowRefusal,
    borrow_equipment,
    stock_equipment,
)
from bridge.services.expiry import run_expiry, staff_remove
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_code
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import EquipmentRow
from ils_adapters.memory import MemoryIls
from tests.flows.conftest import load_door, messages, sim, state_of
from tests.support.clock import Clock
from tests.support.db import both_databases
from tests.support.runtime import flow_config, make_runtime


def _loaded(rt: Runtime, ils: MemoryIls, item: str = "B1") -> int:
    ils.place_hold("P1", item, pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", item, "staff").compartment or 0
    load_door(rt, door)
    return door


@both_databases
def test_a_reminder_goes_out_before_the_expiry_and_only_once(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    _loaded(rt, ils)
    clock.advance(days=5, hours=1)  # 7-day shelf, reminder 48 h before

    first = run_expiry(rt)
    second = run_expiry(rt)

    assert first.reminded == 1 and second.reminded == 0
    [reminder] = messages(rt, "reminder")
    assert reminder.patron == "P1" and reminder.facts["titles"] == ["Book 1"]


def test_an_uncollected_item_goes_on_the_removal_list_and_its_code_stops_working(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    door = _loaded(rt, ils)
    code = messages(rt)[0].secrets["code"]
    clock.advance(days=7, minutes=1)

    report = run_expiry(rt)

    assert report.expired == (("main-lobby", door),)
    assert state_of(rt, door) == "staff_remove"
    assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.DENIED
    assert len(messages(rt, "expired")) == 1


@both_databases
def test_staff_removal_checks_the_item_in_again_and_frees_the_door(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    door = _loaded(rt, ils)
    clock.advance(days=8)
    run_expiry(rt)
    before = len(ils.checkins)

    removal = staff_remove(rt, "main-lobby", door, "staff:bo")

    assert removal.ok and sim(rt).is_open(door)
    assert len(ils.checkins) == before + 1 and ils.checkins[-1][1] == "MAIN-LOCKER"
    assert state_of(rt, door) == "free"


@pytest.fixture
def eq_rt(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, clock: Clock, ils: MemoryIls
) -> Runtime:
    cfg = flow_config(
        tmp_path,
        equipment=[
            {"name": "laptop", "label": "Laptop", "max_per_patron": 1, "no_fines_over": "5.00"}
        ],
    )
    ils.add_item("LAP1", home="MAIN", title="Laptop 1")
    ils.add_item("LAP2", home="MAIN", title="Laptop 2", fee=Decimal("5.00"))
    ils.add_patron("PFINE", "2222", fines=Decimal("12.50"))
    return make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, clock, ils)


def _stock(rt: Runtime, door: int, item: str) -> None:
    assert stock_equipment(rt, "main-lobby", door, item, "laptop", "staff") == door
    load_door(rt, door)


def test_stocked_equipment_is_lent_and_its_door_opens(eq_rt: Runtime, ils: MemoryIls) -> None:
    _stock(eq_rt, 15, "LAP1")

    result = borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "laptop")

    assert result.outcome is BorrowOutcome.OPENED and result.compartment == 15
    assert ils.item_status("LAP1").status.on_loan
    assert state_of(eq_rt, 15) == "picked_up"
    sim(eq_rt).take_item(15)
    sim(eq_rt).close_door(15)
    assert state_of(eq_rt, 15) == "free"


def test_the_category_limit_is_explained(eq_rt: Runtime) -> None:
    _stock(eq_rt, 15, "LAP1")
    _stock(eq_rt, 16, "LAP2")
    borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "LAP1")

    again = borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "laptop", True)

    assert again.outcome is BorrowOutcome.REFUSED
    assert (again.refusal, again.limit, again.has) == (BorrowRefusal.AT_LIMIT, "1", "1")


def test_fines_over_the_category_limit_refuse_the_loan(eq_rt: Runtime) -> None:
    _stock(eq_rt, 15, "LAP1")
    result = borrow_equipment(eq_rt, "main-lobby", "PFINE", "2222", "laptop")
    assert result.outcome is BorrowOutcome.REFUSED
    assert (result.refusal, result.has) == (BorrowRefusal.OWES_TOO_MUCH, "12.50")


def test_a_rental_charge_needs_acknowledging_before_the_door_opens(
    eq_rt: Runtime, ils: MemoryIls
) -> None:
    _stock(eq_rt, 16, "LAP2")

    asked = borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "LAP2")
    assert asked.outcome is BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT and asked.fee == "5.00"
    assert not sim(eq_rt).is_open(16)

    agreed = borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "LAP2", True)
    assert agreed.outcome is BorrowOutcome.OPENED
    with unit_of_work(eq_rt.sessions) as s:
        assert s.scalars(select(EquipmentRow.state)).all() == ["on_loan"]


def test_a_wrong_pin_borrows_nothing(eq_rt: Runtime) -> None:
    _stock(eq_rt, 15, "LAP1")
    result = borrow_equipment(eq_rt, "main-lobby", "P1", "0000", "laptop")
    assert result.outcome is BorrowOutcome.DENIED
    assert state_of(eq_rt, 15) == "loaded"


def _borrow_and_return(rt: Runtime, ils: MemoryIls) -> None:
    """LAP1 is lent from door 15, then comes back through return door 13 and is checked in."""
    from bridge.services.returns.checkin import check_in_deposit
    from bridge.services.returns.recording import record_deposit

    _stock(rt, 15, "LAP1")
    assert borrow_equipment(rt, "main-lobby", "P1", "1234", "laptop").compartment == 15
    sim(rt).take_item(15)
    sim(rt).close_door(15)
    deposit = record_deposit(
        rt, bank_id="main-lobby", compartment=13, item_barcode="LAP1", deposited_at=rt.clock()
    )
    assert check_in_deposit(rt, deposit) is not None
    assert not ils.item_status("LAP1").status.on_loan


def _device(rt: Runtime, item: str) -> EquipmentRow:
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(EquipmentRow).where(EquipmentRow.item_barcode == item)).one()
        s.expunge(row)
        return row


def test_a_returned_device_is_back_in_stock_and_can_be_stocked_and_lent_again(
    eq_rt: Runtime, ils: MemoryIls
) -> None:
    _borrow_and_return(eq_rt, ils)

    device = _device(eq_rt, "LAP1")
    assert (device.state, device.compartment, device.borrower_ref) == ("available", None, None)
    # Not behind a door yet: the kiosk cannot lend it.
    assert borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "laptop").compartment is None

    _stock(eq_rt, 16, "LAP1")
    assert borrow_equipment(eq_rt, "main-lobby", "P1", "1234", "laptop").compartment == 16


def test_with_inspection_on_a_returned_device_waits_for_staff_before_it_is_stocked(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, clock: Clock, ils: MemoryIls
) -> None:
    from bridge.services.equipment import EquipmentError, record_inspection

    cfg = flow_config(
        tmp_path,
        equipment=[{"name": "laptop", "label": "Laptop", "max_per_patron": 1}],
    )
    cfg["banks"][0]["equipment_inspection"] = True
    ils.add_item("LAP1", home="MAIN", title="Laptop 1")
    rt = make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, clock, ils)
    _borrow_and_return(rt, ils)

    assert _device(rt, "LAP1").state == "inspection"
    with pytest.raises(EquipmentError, match="inspection"):
        stock_equipment(rt, "main-lobby", 16, "LAP1", "laptop", "staff")

    assert record_inspection(rt, "LAP1", "staff:ann", passed=False, note="cracked screen") == (
        "withdrawn"
    )
    with pytest.raises(EquipmentError, match="does not wait"):
        record_inspection(rt, "LAP1", "staff:ann", passed=True)
