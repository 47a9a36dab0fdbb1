from __future__ import annotations

from datetime import timedelta

from lockers.allocation import Allocation, NoFit, allocate, apply_allocation
from lockers.events import Discrepancy, DoorFailed, DoorLeftOpen, StateChanged
from lockers.model import Item, Purpose, SizeClass
from lockers.safety import SafetyMonitor, SafetyPolicy
from lockers.states import CompartmentState

from .conftest import T0, build_bank

P = Purpose.PICKUP
EXPIRES = T0 + timedelta(days=7)


def reserved_bank(extra_free: bool = True):  # type: ignore[no-untyped-def]
    layout = [(1, SizeClass.M, P, 100)]
    if extra_free:
        layout.append((2, SizeClass.L, P, 100))
    bank = build_bank(layout)
    result = allocate(bank, [Item("i1", "p1", SizeClass.M)])
    assert isinstance(result, Allocation) and result.compartments == (1,)
    apply_allocation(bank, result, at=T0, actor="staff", expires_at=EXPIRES)
    return bank


def test_a_door_left_open_alerts_staff_once_after_the_configured_time() -> None:
    bank = reserved_bank()
    monitor = SafetyMonitor(bank, SafetyPolicy(door_open_alert_after=timedelta(seconds=90)))
    monitor.door_opened(1, T0)
    assert monitor.due_alerts(T0 + timedelta(seconds=89)) == []
    assert monitor.due_alerts(T0 + timedelta(seconds=90)) == [
        DoorLeftOpen("bank-1", 1, T0, T0 + timedelta(seconds=90))
    ]
    assert monitor.due_alerts(T0 + timedelta(seconds=200)) == []


def test_a_door_closed_in_time_raises_no_alert() -> None:
    bank = reserved_bank()
    monitor = SafetyMonitor(bank)
    monitor.door_opened(1, T0)
    monitor.door_closed(1, T0 + timedelta(seconds=30))
    assert monitor.due_alerts(T0 + timedelta(hours=1)) == []


def test_one_failed_opening_only_counts() -> None:
    bank = reserved_bank()
    outcome = SafetyMonitor(bank).door_failed_to_open(1, at=T0)
    assert outcome.events == (DoorFailed("bank-1", 1, 1, T0),)
    assert not outcome.out_of_service
    assert bank.compartment(1).state is CompartmentState.RESERVED


def test_a_door_that_fails_twice_goes_out_of_service_and_its_reservation_moves() -> None:
    bank = reserved_bank()
    monitor = SafetyMonitor(bank)
    monitor.door_failed_to_open(1, at=T0)
    outcome = monitor.door_failed_to_open(1, at=T0)
    assert outcome.out_of_service
    assert bank.compartment(1).state is CompartmentState.OUT_OF_SERVICE
    assert isinstance(outcome.moved, Allocation) and outcome.moved.compartments == (2,)
    assert [c.item.barcode for c in bank.contents(2)] == ["i1"]
    assert bank.reservation(2) is not None and bank.reservation(2).expires_at == EXPIRES  # type: ignore[union-attr]
    assert bank.compartments_of("p1") == (2,)
    changes = [(e.compartment, e.to_state) for e in outcome.events if isinstance(e, StateChanged)]
    assert changes == [(1, "out_of_service"), (2, "reserved")]
    # Repaired and empty, the door goes back to free.
    assert bank.return_to_service(1, at=T0, actor="staff", reason="fixed").to_state == "free"


def test_a_reservation_with_nowhere_to_go_comes_back_as_no_fit_for_staff() -> None:
    bank = reserved_bank(extra_free=False)
    monitor = SafetyMonitor(bank)
    monitor.door_failed_to_open(1, at=T0)
    outcome = monitor.door_failed_to_open(1, at=T0)
    assert isinstance(outcome.moved, NoFit)
    assert "hold shelf instead" in outcome.moved.reason


def test_a_successful_opening_resets_the_failure_count() -> None:
    bank = reserved_bank()
    monitor = SafetyMonitor(bank)
    monitor.door_failed_to_open(1, at=T0)
    monitor.door_opened(1, T0)
    monitor.door_closed(1, T0)
    assert not monitor.door_failed_to_open(1, at=T0).out_of_service


def test_an_occupancy_reading_that_contradicts_the_model_raises_a_discrepancy() -> None:
    bank = reserved_bank()
    bank.transition(1, CompartmentState.LOADED, at=T0, actor="staff", reason="closed")
    monitor = SafetyMonitor(bank)
    assert monitor.occupancy_reported(1, True, T0) is None
    assert monitor.occupancy_reported(1, False, T0) == Discrepancy(
        "bank-1", 1, "loaded", True, False, T0
    )
    assert monitor.occupancy_reported(2, True, T0) == Discrepancy(
        "bank-1", 2, "free", False, True, T0
    )


def test_readings_while_the_door_is_open_are_not_discrepancies() -> None:
    bank = reserved_bank()
    monitor = SafetyMonitor(bank)
    monitor.door_opened(2, T0)
    assert monitor.occupancy_reported(2, True, T0) is None
