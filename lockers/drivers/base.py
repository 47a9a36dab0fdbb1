"""The driver interface and the events every driver reports.

Semantics (what the domain relies on):
- ``open_door`` returns once the controller confirms the lock released; it raises
  ``DoorDidNotOpen`` when the controller answers that it stayed shut, and ``ControllerOffline``
  when no answer came in time (nothing is known to have opened).
- ``DoorOpened`` / ``DoorClosed`` are physical door movements, reported by the door sensor, not
  echoes of commands. ``OccupancyChanged`` is the compartment sensor's new reading.
  ``Fault`` is a controller-reported problem (``compartment`` None: the whole bank); code
  "recovered" follows an "offline" when the controller answers again.
  ``CardRead`` is a credential presented at the bank's reader: a library card number.
- Events arrive on the driver's thread through the subscribed handlers, in the order the
  controller sent them. Card numbers are credentials: handlers must not log them.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)


class DoorState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class CompartmentReading:
    compartment: int
    door: DoorState
    occupied: bool | None  # None: the compartment has no occupancy sensor


@dataclass(frozen=True)
class DoorOpened:
    bank_id: str
    compartment: int
    at: datetime


@dataclass(frozen=True)
class DoorClosed:
    bank_id: str
    compartment: int
    at: datetime


@dataclass(frozen=True)
class OccupancyChanged:
    bank_id: str
    compartment: int
    occupied: bool
    at: datetime


@dataclass(frozen=True)
class Fault:
    bank_id: str
    compartment: int | None
    code: str  # "jammed", "sensor", "power", "offline", "recovered", or a vendor code
    detail: str
    at: datetime


@dataclass(frozen=True)
class CardRead:
    bank_id: str
    reader: str
    credential: str  # the library card number (patron barcode) as read
    at: datetime

    def __repr__(self) -> str:  # keep credentials out of logs and tracebacks
        return f"CardRead(bank_id={self.bank_id!r}, reader={self.reader!r}, at={self.at!r})"


DriverEvent = DoorOpened | DoorClosed | OccupancyChanged | Fault | CardRead
EventHandler = Callable[[DriverEvent], None]


class LockerDriver(Protocol):
    """What the service layer needs from a locker controller."""

    bank_id: str

    def open_door(self, compartment: int) -> None:
        """Open one door; raises ``DoorDidNotOpen`` or ``ControllerOffline``."""
        ...

    def read(self, compartment: int) -> CompartmentReading:
        """Door and occupancy state now; raises ``ControllerOffline``."""
        ...

    def subscribe(self, handler: EventHandler) -> None:
        """Deliver every future event to ``handler``."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


class Dispatcher:
    """Fans events out to subscribed handlers; a failing handler does not stop the others."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: EventHandler) -> None:
        with self._lock:
            self._handlers.append(handler)

    def emit(self, event: DriverEvent) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                # The driver thread must survive a buggy handler; the traceback is kept.
                log.exception("event handler failed for %s", type(event).__name__)


class EventQueue:
    """A handler that queues events, for callers that prefer pulling to callbacks."""

    def __init__(self) -> None:
        self._queue: queue.Queue[DriverEvent] = queue.Queue()

    def __call__(self, event: DriverEvent) -> None:
        self._queue.put(event)

    def get(self, timeout: float = 5.0) -> DriverEvent:
        """The next event; raises ``queue.Empty`` after ``timeout`` seconds."""
        return self._queue.get(timeout=timeout)

    def empty(self) -> bool:
        return self._queue.empty()
