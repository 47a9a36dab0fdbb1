"""The domain's door safety rules (``lockers.safety``) end to end, driven by the simulated
bank's fault switches: a door left open, a door that jams shut, a sensor that disagrees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bridge.config import load_settings
from bridge.jobs.periodic import resolve, schedule
from bridge.runtime import Runtime
from bridge.services.assembly import handle_event
from bridge.services.doors import checks
from bridge.services.loading import ScanOutcome, scan_item
from bridge.services.pickup import PickupOutcome, RefusalKind, pickup_with_code
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow
from bridge.web.staff.queries import work_lists
from bridge.web.staff.scan_words import scan_message
from ils_adapters.memory import MemoryIls
from lockers.drivers.base import OccupancyChanged
from lockers.drivers.simulated import SimFault
from tests.flows.conftest import load_door, messages, sim, state_of
from tests.support.clock import Clock
from tests.support.db import both_databases
from tests.support.runtime import flow_config, installed, make_runtime


@pytest.fixture
def rt(
    tmp_path: Path, db_engine: Engine, redis_conn: Any, clock: Clock, ils: MemoryIls
) -> Iterator[Runtime]:
    cfg = flow_config(tmp_path)
    cfg["banks"][0]["door_open_alert_seconds"] = 60
    runtime = make_runtime(load_settings(None, **cfg), db_engine, redis_conn, clock, ils)
    yield runtime
    for key in list(runtime._cache):
        if key.startswith("driver:"):
            runtime._cache[key].close()


def _audit(rt: Runtime, kind: str) -> list[AuditEventRow]:
    with unit_of_work(rt.sessions) as s:
        return list(
            s.scalars(
                select(AuditEventRow).where(AuditEventRow.kind == kind).order_by(AuditEventRow.id)
            )
        )


# --- a door left open ---------------------------------------------------------------------


def test_a_door_that_does_not_latch_raises_one_staff_alert_after_the_configured_time(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", "B1", "staff").compartment or 0
    bank = sim(rt)
    bank.set_fault(SimFault.LEFT_OPEN, door)
    bank.put_item(door)
    assert not bank.close_door(door)  # pushed shut, but it springs open again

    clock.advance(seconds=59)
    assert checks.check_open_doors(rt) == 0
    clock.advance(seconds=2)
    assert checks.check_open_doors(rt) == 1
    clock.advance(minutes=10)
    assert checks.check_open_doors(rt) == 0  # one alert per opening, not one per beat

    [alert] = _audit(rt, "door_left_open")
    assert (alert.bank_id, alert.compartment) == ("main-lobby", door)
    assert messages(rt) == []  # the patron hears nothing until the door is really shut


def test_the_door_check_is_a_periodic_job_that_runs_on_the_installed_runtime(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    [job] = [p for p, _q, _s in schedule(rt.settings) if p.endswith("run_door_checks")]
    interval = next(s for p, _q, s in schedule(rt.settings) if p == job)
    assert interval <= 60
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    scan_item(rt, "main-lobby", "B1", "staff")  # door 1 open, nobody closes it
    clock.advance(minutes=2)
    with installed(rt):
        run = resolve(job)
        assert run is not None
        assert run() == 1
    assert len(_audit(rt, "door_left_open")) == 1


# --- a door that jams shut ----------------------------------------------------------------


@both_databases
def test_a_door_that_jams_twice_is_taken_out_of_service_and_the_patron_gets_a_new_code(
    rt: Runtime, ils: MemoryIls
) -> None:
    # East doors are M: two S items of one patron share one.
    ils.place_hold("P1", "B1", pickup_location="EAST-LOCKER")
    ils.place_hold("P1", "B2", pickup_location="EAST-LOCKER")
    first = scan_item(rt, "east-station", "B1", "staff", size="S")
    assert first.compartment == 1
    load_door(rt, 1, "east-station")
    old_code = messages(rt)[0].secrets["code"]
    sim(rt, "east-station").set_fault(SimFault.JAMMED, 1)

    second = scan_item(rt, "east-station", "B2", "staff", size="S")

    # B2 was to join B1 behind door 1; door 1 failed twice, so B2 went elsewhere.
    assert second.outcome is ScanOutcome.DOOR_OPEN, second
    assert second.compartment == 2
    assert state_of(rt, 1, "east-station") == "out_of_service"
    assert [a.detail["failures"] for a in _audit(rt, "door_failed")] == [1, 2]
    with unit_of_work(rt.sessions) as s:
        where = {b: n for b, n in s.execute(select(LoadRow.item_barcode, LoadRow.compartment))}
    assert where == {"B1": 1, "B2": 2}

    load_door(rt, 2, "east-station")

    _first, moved_note = messages(rt)
    assert moved_note.facts["moved"] is True
    assert moved_note.facts["doors"] == [2] and moved_note.facts["titles"] == ["Book 2"]
    new_code = moved_note.secrets["code"]
    assert new_code != old_code
    with unit_of_work(rt.sessions) as s:
        grants = s.scalars(select(AccessGrantRow).order_by(AccessGrantRow.issued_at)).all()
        assert [g.revoked_at is not None for g in grants] == [True, False]
    assert pickup_with_code(rt, "east-station", old_code).outcome is PickupOutcome.DENIED

    picked = pickup_with_code(rt, "east-station", new_code)

    assert picked.outcome is PickupOutcome.PARTLY and picked.opened == (2,)
    [stuck] = picked.refused
    assert (stuck.item, stuck.kind) == ("B1", RefusalKind.DOOR_OUT_OF_ORDER)
    assert not ils.item_status("B1").status.on_loan  # not lent: nobody could take it
    assert ils.item_status("B2").status.on_loan


def test_a_jammed_door_with_no_other_door_free_sends_the_item_to_the_hold_shelf(
    rt: Runtime, ils: MemoryIls
) -> None:
    for n in (1, 2, 3):
        ils.place_hold(f"P{1 if n < 3 else 2}", f"B{n}", pickup_location="EAST-LOCKER")
    for n, door in ((1, 1), (2, 2)):
        assert scan_item(rt, "east-station", f"B{n}", "staff", size="M").compartment == door
        load_door(rt, door, "east-station")
    sim(rt, "east-station").set_fault(SimFault.JAMMED, 3)
    sim(rt, "east-station").set_fault(SimFault.JAMMED, 4)

    result = scan_item(rt, "east-station", "B3", "staff", size="M")

    assert result.outcome is ScanOutcome.DOOR_FAILED
    assert "hold shelf" in scan_message(rt.settings, result)
    assert [state_of(rt, n, "east-station") for n in (3, 4)] == ["out_of_service"] * 2
    with unit_of_work(rt.sessions) as s:
        assert sorted(s.scalars(select(LoadRow.item_barcode))) == ["B1", "B2"]


# --- a sensor that disagrees --------------------------------------------------------------


@both_databases
def test_a_sensor_that_sees_an_empty_door_after_loading_goes_on_the_staff_list(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", "B1", "staff").compartment or 0
    sim(rt).set_fault(SimFault.SENSOR_DISAGREES, door)

    load_door(rt, door)  # the book is inside; the sensor says empty

    [found] = _audit(rt, "occupancy_discrepancy")
    assert found.compartment == door
    assert (found.detail["expected"], found.detail["reported"]) == (True, False)
    with unit_of_work(rt.sessions) as s:
        [listed] = checks.discrepancies(s, "main-lobby")
    staff = work_lists(rt, Role.STAFF).discrepancies
    assert (listed.compartment, listed.state, listed.reported_occupied) == (door, "loaded", False)
    assert [(d.bank_id, d.compartment) for d in staff] == [("main-lobby", door)]
    assert state_of(rt, door) == "loaded"  # the records are not changed on a sensor's word


def test_a_sensor_that_still_sees_something_after_pickup_keeps_the_door_for_staff(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", "B1", "staff").compartment or 0
    load_door(rt, door)
    code = messages(rt)[0].secrets["code"]
    assert pickup_with_code(rt, "main-lobby", code).opened == (door,)
    bank = sim(rt)
    bank.set_fault(SimFault.SENSOR_DISAGREES, door)

    bank.take_item(door)
    bank.close_door(door)

    assert state_of(rt, door) == "picked_up"  # not freed: staff look first
    [found] = _audit(rt, "occupancy_discrepancy")
    assert found.detail["state"] == "picked_up" and found.detail["reported"] is True
    assert [d.compartment for d in work_lists(rt, Role.STAFF).discrepancies] == [door]


def test_a_reading_with_the_door_shut_is_audited_once_per_change(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    # A controller that reports occupancy on its own schedule (MQTT/HTTP) with doors shut.
    for _ in range(3):
        handle_event(rt, OccupancyChanged("main-lobby", 4, True, clock()))
    handle_event(rt, OccupancyChanged("main-lobby", 4, False, clock()))

    [found] = _audit(rt, "occupancy_discrepancy")
    assert (found.compartment, found.detail["state"]) == (4, "free")
    with unit_of_work(rt.sessions) as s:
        assert checks.discrepancies(s) == []  # the last reading agrees again
