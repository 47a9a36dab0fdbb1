"""Safety rules that belong to the domain, not the UI.

- A door left open longer than ``SafetyPolicy.door_open_alert_after`` raises one staff alert per
  opening.
- A door that fails to open ``open_failures_before_out_of_service`` times in a row takes its
  compartment out of service and moves a not-yet-loaded reservation to another door.
- An occupancy reading with the door shut that contradicts the model raises a discrepancy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lockers.allocation import Allocation, NoFit, allocate, apply_allocation
from lockers.bank import Bank
from lockers.events import Discrepancy, DoorFailed, DoorLeftOpen, LockerEvent
from lockers.model import Reach
from lockers.states import EXPECTED_OCCUPANCY, CompartmentState


@dataclass(frozen=True)
class SafetyPolicy:
    door_open_alert_after: timedelta = timedelta(minutes=2)
    open_failures_before_out_of_service: int = 2


@dataclass(frozen=True)
class DoorFailureOutcome:
    """What a failed opening led to. ``moved``: the reservation's new place (or ``NoFit``),
    ``None`` when nothing was moved (first failure, or items already inside)."""

    events: tuple[LockerEvent, ...]
    out_of_service: bool
    moved: Allocation | NoFit | None


class SafetyMonitor:
    """Watches one bank's doors. Feed it driver events; collect the events it returns."""

    def __init__(self, bank: Bank, policy: SafetyPolicy | None = None) -> None:
        self._bank = bank
        self._policy = policy or SafetyPolicy()
        self._open_since: dict[int, datetime] = {}
        self._alerted: set[int] = set()
        self._failures: dict[int, int] = {}

    def door_opened(self, number: int, at: datetime) -> None:
        self._bank.compartment(number)
        self._open_since.setdefault(number, at)
        self._failures.pop(number, None)

    def door_closed(self, number: int, at: datetime) -> None:
        self._open_since.pop(number, None)
        self._alerted.discard(number)

    def is_open(self, number: int) -> bool:
        return number in self._open_since

    def due_alerts(self, now: datetime) -> list[DoorLeftOpen]:
        """Doors open too long that have not been reported yet for this opening."""
        alerts: list[DoorLeftOpen] = []
        for number, since in sorted(self._open_since.items()):
            if number in self._alerted or now - since < self._policy.door_open_alert_after:
                continue
            self._alerted.add(number)
            alerts.append(DoorLeftOpen(self._bank.bank_id, number, since, now))
        return alerts

    def door_failed_to_open(
        self,
        number: int,
        *,
        at: datetime,
        actor: str = "system",
        reach: Reach | None = None,
    ) -> DoorFailureOutcome:
        """Count a failed opening; on the limit, put the door out of service and move its
        reservation if the items are not inside yet."""
        compartment = self._bank.compartment(number)
        failures = self._failures.get(number, 0) + 1
        self._failures[number] = failures
        events: list[LockerEvent] = [DoorFailed(self._bank.bank_id, number, failures, at)]
        limit = self._policy.open_failures_before_out_of_service
        if failures < limit or compartment.state is CompartmentState.OUT_OF_SERVICE:
            return DoorFailureOutcome(tuple(events), False, None)
        self._failures.pop(number, None)
        moved: Allocation | NoFit | None = None
        if compartment.state is CompartmentState.RESERVED:
            reservation, contents = self._bank.take_reservation(number)
            events.append(self._out_of_service(number, at, actor, failures))
            items = [c.item for c in contents]
            if items:
                moved = allocate(self._bank, items, reach=reach, exclude={number})
                if isinstance(moved, Allocation):
                    expires = reservation.expires_at if reservation else None
                    events.extend(
                        apply_allocation(self._bank, moved, at=at, actor=actor, expires_at=expires)
                    )
        else:
            events.append(self._out_of_service(number, at, actor, failures))
        return DoorFailureOutcome(tuple(events), True, moved)

    def occupancy_reported(self, number: int, occupied: bool, at: datetime) -> Discrepancy | None:
        """A ``Discrepancy`` when the door is shut and the reading contradicts the state."""
        compartment = self._bank.compartment(number)
        if number in self._open_since:
            return None  # someone is loading or taking things out right now
        expected = EXPECTED_OCCUPANCY[compartment.state]
        if expected is None or expected == occupied:
            return None
        return Discrepancy(
            self._bank.bank_id, number, compartment.state.value, expected, occupied, at
        )

    def _out_of_service(self, number: int, at: datetime, actor: str, failures: int) -> LockerEvent:
        return self._bank.transition(
            number,
            CompartmentState.OUT_OF_SERVICE,
            at=at,
            actor=actor,
            reason=f"door failed to open {failures} times",
        )
