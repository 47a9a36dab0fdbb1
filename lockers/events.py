"""Frozen audit and safety events. Every state change produces exactly one ``StateChanged``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StateChanged:
    """An audit record: ``what`` ("compartment" or "deposit") went ``from_state -> to_state``.

    ``subject`` identifies the thing (compartment number or deposit id as text); ``actor`` is who
    or what caused it (a staff id, "patron", "system", a driver name).
    """

    what: str
    bank_id: str
    subject: str
    compartment: int | None
    from_state: str
    to_state: str
    at: datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class DoorLeftOpen:
    """Staff alert: a door stayed open longer than the configured limit."""

    bank_id: str
    compartment: int
    opened_at: datetime
    at: datetime


@dataclass(frozen=True)
class DoorFailed:
    """A door did not open when commanded; ``failures`` counts consecutive failures."""

    bank_id: str
    compartment: int
    failures: int
    at: datetime


@dataclass(frozen=True)
class Discrepancy:
    """Staff alert: the occupancy sensor contradicts what the model says is inside."""

    bank_id: str
    compartment: int
    state: str
    expected_occupied: bool
    reported_occupied: bool
    at: datetime


LockerEvent = StateChanged | DoorLeftOpen | DoorFailed | Discrepancy
