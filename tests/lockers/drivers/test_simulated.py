from __future__ import annotations

import time

import pytest

from lockers.drivers.base import (
    CardRead,
    DoorClosed,
    DoorOpened,
    DoorState,
    DriverEvent,
    EventQueue,
    Fault,
    OccupancyChanged,
)
from lockers.drivers.simulated import SimFault, SimTiming, SimulatedBank
from lockers.errors import ControllerOffline, DoorDidNotOpen

FAST = SimTiming(open_delay=0.01, read_delay=0.0)


def bank() -> tuple[SimulatedBank, list[DriverEvent]]:
    sim = SimulatedBank("b1", range(1, 5), timing=FAST)
    events: list[DriverEvent] = []
    sim.subscribe(events.append)
    return sim, events


def test_opening_takes_the_configured_time_and_reports_the_door_opened() -> None:
    sim = SimulatedBank("b1", [1], timing=SimTiming(open_delay=0.05))
    queue = EventQueue()
    sim.subscribe(queue)
    start = time.monotonic()
    sim.open_door(1)
    assert time.monotonic() - start >= 0.05
    event = queue.get(timeout=1)
    assert isinstance(event, DoorOpened) and event.compartment == 1
    assert sim.read(1).door is DoorState.OPEN


def test_loading_and_closing_report_occupancy_then_door_closed() -> None:
    sim, events = bank()
    sim.open_door(2)
    sim.put_item(2)
    sim.put_item(2)  # still occupied: no second event
    assert sim.close_door(2)
    kinds = [type(e) for e in events]
    assert kinds == [DoorOpened, OccupancyChanged, DoorClosed]
    reading = sim.read(2)
    assert (reading.door, reading.occupied) == (DoorState.CLOSED, True)


def test_items_only_go_in_through_an_open_door() -> None:
    sim, _ = bank()
    with pytest.raises(ValueError, match="shut"):
        sim.put_item(1)


def test_a_jammed_door_stays_shut_and_reports_a_fault() -> None:
    sim, events = bank()
    sim.set_fault(SimFault.JAMMED, 3)
    with pytest.raises(DoorDidNotOpen):
        sim.open_door(3)
    assert sim.read(3).door is DoorState.CLOSED
    assert isinstance(events[-1], Fault) and events[-1].code == "jammed"
    sim.open_door(4)  # other doors still work
    sim.clear_fault(SimFault.JAMMED, 3)
    sim.open_door(3)


def test_a_door_left_open_does_not_latch() -> None:
    sim, events = bank()
    sim.set_fault(SimFault.LEFT_OPEN, 1)
    sim.open_door(1)
    assert not sim.close_door(1)
    assert sim.read(1).door is DoorState.OPEN
    assert not any(isinstance(e, DoorClosed) for e in events)


def test_a_disagreeing_sensor_reports_the_opposite_of_the_truth() -> None:
    sim, _ = bank()
    sim.set_fault(SimFault.SENSOR_DISAGREES, 1)
    assert sim.read(1).occupied is True
    assert sim.items_in(1) == 0


def test_an_offline_controller_refuses_commands_and_reports_nothing() -> None:
    sim, events = bank()
    sim.set_fault(SimFault.OFFLINE)
    with pytest.raises(ControllerOffline):
        sim.open_door(1)
    with pytest.raises(ControllerOffline):
        sim.read(1)
    sim.present_card("21234000567890")
    assert events == []


def test_a_card_read_reports_the_credential_but_keeps_it_out_of_its_repr() -> None:
    sim, events = bank()
    sim.present_card("21234000567890", reader="front")
    assert events and isinstance(events[0], CardRead)
    assert events[0].credential == "21234000567890"
    assert "21234000567890" not in repr(events[0])
