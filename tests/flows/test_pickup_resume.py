"""A pickup whose loans were recorded but whose door never opened (the controller did not
answer, or the process died between the two) is finished by the patron's next attempt, with
the card or the same code, without a second checkout; a door that opened once is never opened
again for that code."""

from __future__ import annotations

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_card, pickup_with_code
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.simulated import SimFault
from tests.flows.conftest import load_door, messages, sim, state_of
from tests.support.clock import Clock
from tests.support.db import both_databases


def _loaded(rt: Runtime, ils: MemoryIls, item: str) -> int:
    ils.place_hold("P1", item, pickup_location="MAIN-LOCKER")
    result = scan_item(rt, "main-lobby", item, "staff")
    assert result.compartment is not None, result
    load_door(rt, result.compartment)
    return result.compartment


def _openings(rt: Runtime, door: int) -> int:
    with unit_of_work(rt.sessions) as s:
        return len(
            s.scalars(
                select(AuditEventRow.id).where(
                    AuditEventRow.kind == "pickup_door_opened", AuditEventRow.compartment == door
                )
            ).all()
        )


@both_databases
def test_the_same_code_opens_the_door_a_lost_handover_never_opened(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    door = _loaded(rt, ils, "B1")
    code = messages(rt)[0].secrets["code"]
    bank = sim(rt)
    bank.set_fault(SimFault.OFFLINE)
    cut_short = pickup_with_code(rt, "main-lobby", code)
    assert cut_short.outcome is PickupOutcome.DOOR_FAILED
    assert state_of(rt, door) == "picked_up" and not bank.is_open(door)
    due = ils.item_status("B1").due
    bank.clear_fault(SimFault.OFFLINE)
    clock.advance(minutes=5)

    resumed = pickup_with_code(rt, "main-lobby", code)

    assert resumed.outcome is PickupOutcome.OPENED and resumed.opened == (door,)
    assert bank.is_open(door) and _openings(rt, door) == 1
    assert ils.item_status("B1").due == due  # lent once: no second checkout (a renewal)
    bank.take_item(door)
    bank.close_door(door)
    assert state_of(rt, door) == "free"
    again = pickup_with_code(rt, "main-lobby", code)
    assert again.outcome is PickupOutcome.DENIED


def test_the_card_finishes_a_handover_cut_short(
    rt: Runtime, ils: MemoryIls, clock: Clock
) -> None:
    door = _loaded(rt, ils, "B1")
    bank = sim(rt)
    bank.set_fault(SimFault.OFFLINE)
    assert pickup_with_card(rt, "main-lobby", "P1", "1234").outcome is PickupOutcome.DOOR_FAILED
    due = ils.item_status("B1").due
    bank.clear_fault(SimFault.OFFLINE)
    clock.advance(minutes=5)

    resumed = pickup_with_card(rt, "main-lobby", "P1", "1234")

    assert resumed.outcome is PickupOutcome.OPENED and resumed.opened == (door,)
    assert ils.item_status("B1").due == due


def test_a_door_that_opened_once_is_not_opened_again_for_the_code(
    rt: Runtime, ils: MemoryIls
) -> None:
    door = _loaded(rt, ils, "B1")
    code = messages(rt)[0].secrets["code"]
    bank = sim(rt)
    assert pickup_with_code(rt, "main-lobby", code).opened == (door,)
    bank.close_door(door)  # shut with the item still inside: the door stays picked_up
    assert state_of(rt, door) == "picked_up"

    again = pickup_with_code(rt, "main-lobby", code)

    assert again.outcome is PickupOutcome.DENIED
    assert not bank.is_open(door) and _openings(rt, door) == 1
