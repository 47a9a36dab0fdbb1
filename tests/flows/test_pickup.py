"""Patron pickup with the in-memory ILS (on SQLite; the marked ones on PostgreSQL too)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.health import probe_ils
from bridge.services.loading import scan_item
from bridge.services.pickup import (
    PickupOutcome,
    RefusalKind,
    pickup_with_card,
    pickup_with_code,
    pickup_with_qr,
)
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.lockers import LoadRow
from ils_adapters.memory import MemoryIls
from tests.flows.conftest import audit_kinds, load_door, messages, sim, state_of
from tests.support.clock import Clock
from tests.support.db import both_databases
from tests.support.runtime import flow_config, make_runtime


def _loaded(rt: Runtime, ils: MemoryIls, patron: str, *items: str) -> list[int]:
    doors = []
    for item in items:
        ils.place_hold(patron, item, pickup_location="MAIN-LOCKER")
        result = scan_item(rt, "main-lobby", item, "staff")
        assert result.compartment is not None, result
        load_door(rt, result.compartment)
        doors.append(result.compartment)
    return doors


@both_databases
def test_card_and_pin_check_out_every_item_and_open_the_patrons_doors(
    rt: Runtime, ils: MemoryIls
) -> None:
    doors = _loaded(rt, ils, "P1", "B1", "B2")

    result = pickup_with_card(rt, "main-lobby", "P1", "1234", kiosk="k1")

    assert result.outcome is PickupOutcome.OPENED
    assert sorted(result.opened) == sorted(doors)
    assert all(ils.item_status(i).status.on_loan for i in ("B1", "B2"))
    assert all(sim(rt).is_open(d) for d in doors)
    assert all(state_of(rt, d) == "picked_up" for d in doors)


@both_databases
def test_door_closed_and_empty_frees_the_compartment_and_purges_the_patron_link(
    rt: Runtime, ils: MemoryIls
) -> None:
    [door] = _loaded(rt, ils, "P1", "B1")
    pickup_with_card(rt, "main-lobby", "P1", "1234")
    bank = sim(rt)

    bank.take_item(door)
    bank.close_door(door)

    assert state_of(rt, door) == "free"
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(LoadRow)).all() == []
        done = s.scalars(
            select(AuditEventRow).where(AuditEventRow.kind == "pickup_completed")
        ).one()
    assert done.subject and done.subject != "P1"  # pseudonymised


def test_a_wrong_pin_opens_nothing_and_five_lock_the_card(rt: Runtime, ils: MemoryIls) -> None:
    [door] = _loaded(rt, ils, "P1", "B1")
    for _ in range(5):
        wrong = pickup_with_card(rt, "main-lobby", "P1", "0000", kiosk="k1")
        assert wrong.outcome is PickupOutcome.DENIED
    assert not sim(rt).is_open(door)

    right = pickup_with_card(rt, "main-lobby", "P1", "1234", kiosk="k2")

    assert right.outcome is PickupOutcome.LOCKED_OUT
    assert right.locked_until is not None
    assert not ils.item_status("B1").status.on_loan
    assert state_of(rt, door) == "loaded"


@both_databases
def test_the_card_lock_ends_after_fifteen_minutes(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    _loaded(rt, ils, "P1", "B1")
    for _ in range(5):
        pickup_with_card(rt, "main-lobby", "P1", "0000", kiosk="k1")
    clock.advance(minutes=16)

    assert pickup_with_card(rt, "main-lobby", "P1", "1234").outcome is PickupOutcome.OPENED


def test_the_typed_code_from_the_message_opens_the_door_once(rt: Runtime, ils: MemoryIls) -> None:
    [door] = _loaded(rt, ils, "P1", "B1")
    code = messages(rt)[0].secrets["code"]

    first = pickup_with_code(rt, "main-lobby", code)
    again = pickup_with_code(rt, "main-lobby", code)

    assert first.outcome is PickupOutcome.OPENED and first.opened == (door,)
    assert again.outcome is PickupOutcome.DENIED


def test_the_qr_token_opens_the_door(rt: Runtime, ils: MemoryIls) -> None:
    [door] = _loaded(rt, ils, "P1", "B1")
    token = messages(rt)[0].secrets["qr_token"]

    result = pickup_with_qr(rt, "main-lobby", token)

    assert result.opened == (door,)


def test_an_expired_code_opens_nothing(rt: Runtime, ils: MemoryIls, clock: Clock) -> None:
    [door] = _loaded(rt, ils, "P1", "B1")
    code = messages(rt)[0].secrets["code"]
    clock.advance(days=8)

    result = pickup_with_code(rt, "main-lobby", code)

    assert result.outcome is PickupOutcome.DENIED
    assert state_of(rt, door) == "loaded"
    with unit_of_work(rt.sessions) as s:
        denied = s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "patron_verify_failed")).one()
    assert denied.detail["reason"] == "expired"


def test_a_blocked_card_is_told_why_and_the_items_stay(rt: Runtime, ils: MemoryIls) -> None:
    ils.place_hold("PBLOCK", "B1", pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", "B1", "staff").compartment or 0
    load_door(rt, door)

    result = pickup_with_card(rt, "main-lobby", "PBLOCK", "1111")

    assert result.outcome is PickupOutcome.BLOCKED
    assert "card reported lost" in " ".join(result.block_reasons)
    assert state_of(rt, door) == "loaded" and not sim(rt).is_open(door)


def test_a_code_pickup_by_a_blocked_patron_explains_the_refusal(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("PBLOCK", "B1", pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", "B1", "staff").compartment or 0
    load_door(rt, door)
    code = messages(rt)[0].secrets["code"]

    result = pickup_with_code(rt, "main-lobby", code)

    assert result.outcome is PickupOutcome.REFUSED
    assert result.refused[0].kind is RefusalKind.ILS_REFUSED
    assert "card reported lost" in (result.refused[0].ils_says or "")
    assert state_of(rt, door) == "loaded"


def test_a_charge_must_be_accepted_before_the_door_opens(rt: Runtime, ils: MemoryIls) -> None:
    ils.add_item("DVD1", home="MAIN", title="A film", fee=Decimal("1.50"))
    [door] = _loaded(rt, ils, "P1", "DVD1")

    first = pickup_with_card(rt, "main-lobby", "P1", "1234")
    accepted = pickup_with_card(rt, "main-lobby", "P1", "1234", fee_acknowledged=True)

    assert first.outcome is PickupOutcome.REFUSED and first.fee_to_acknowledge
    assert first.refused[0].kind is RefusalKind.FEE and first.refused[0].fee == "1.50"
    assert accepted.outcome is PickupOutcome.OPENED and accepted.opened == (door,)


def test_the_ils_going_down_mid_pickup_opens_only_what_was_lent(
    rt: Runtime, ils: MemoryIls
) -> None:
    doors = _loaded(rt, ils, "P1", "B1", "B2")
    code = messages(rt)[0].secrets["code"]
    ils.go_offline()

    result = pickup_with_code(rt, "main-lobby", code)

    assert result.outcome is PickupOutcome.ILS_UNAVAILABLE
    assert result.opened == ()
    assert all(state_of(rt, d) == "loaded" for d in doors)
    ils.go_online()
    # Known down for a short while (bridge.infra.ils_circuit); the periodic probe clears it.
    assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.ILS_UNAVAILABLE
    probe_ils(rt)
    assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.OPENED


def test_the_down_mark_lasts_as_long_as_the_ils_setting_says(
    tmp_path: Path, db_engine: Engine, redis_conn: Any, clock: Clock, ils: MemoryIls
) -> None:
    """``[[ils]] down_mark_seconds``: after it runs out, the next pickup tries the ILS again
    (no probe needed)."""
    cfg = flow_config(tmp_path)
    cfg["ils"][0]["down_mark_seconds"] = 1
    rt = make_runtime(load_settings(None, **cfg), db_engine, redis_conn, clock, ils)
    try:
        [door] = _loaded(rt, ils, "P1", "B1")
        code = messages(rt)[0].secrets["code"]
        ils.go_offline()
        assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.ILS_UNAVAILABLE
        ils.go_online()
        # Marked down: answered at once without asking the ILS.
        assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.ILS_UNAVAILABLE
        time.sleep(1.1)  # the mark is a Redis expiry: real time

        result = pickup_with_code(rt, "main-lobby", code)

        assert result.outcome is PickupOutcome.OPENED and result.opened == (door,)
    finally:
        for key in list(rt._cache):
            if key.startswith("driver:"):
                rt._cache[key].close()


def test_a_patron_with_nothing_waiting_is_told_so(rt: Runtime) -> None:
    result = pickup_with_card(rt, "main-lobby", "P2", "4321")
    assert result.outcome is PickupOutcome.NOTHING_WAITING
    assert "pickup_nothing_waiting" in audit_kinds(rt)
