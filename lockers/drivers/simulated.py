"""An in-process locker bank with realistic timing and switchable faults (demo and tests).

Besides the driver interface it lets a test or the demo act as the people at the bank:
``close_door``, ``put_item``, ``take_item``, ``present_card``.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lockers.drivers.base import (
    CardRead,
    CompartmentReading,
    Dispatcher,
    DoorClosed,
    DoorOpened,
    DoorState,
    EventHandler,
    Fault,
    OccupancyChanged,
)
from lockers.errors import ControllerOffline, DoorDidNotOpen, UnknownCompartment
from lockers.ports import Clock, system_clock


@dataclass(frozen=True)
class SimTiming:
    """Seconds a real controller takes: releasing a lock is slow, a status read is quick."""

    open_delay: float = 0.4
    read_delay: float = 0.05


class SimFault(enum.StrEnum):
    JAMMED = "jammed"  # the door stays shut when commanded open
    LEFT_OPEN = "left_open"  # the door does not latch when pushed shut
    SENSOR_DISAGREES = "sensor_disagrees"  # occupancy reads the opposite of the truth
    OFFLINE = "offline"  # the controller answers nothing and reports nothing


@dataclass
class _Door:
    open: bool = False
    items: int = 0


class SimulatedBank:
    """A ``LockerDriver`` for a bank that exists only in memory.

    Faults apply to one compartment, or to all when ``compartment`` is None.
    """

    def __init__(
        self,
        bank_id: str,
        compartments: Iterable[int],
        *,
        timing: SimTiming | None = None,
        clock: Clock = system_clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bank_id = bank_id
        self._doors = {number: _Door() for number in compartments}
        self._timing = timing or SimTiming()
        self._clock = clock
        self._sleep = sleep
        self._faults: set[tuple[SimFault, int | None]] = set()
        self._dispatcher = Dispatcher()
        self._lock = threading.RLock()

    # -- faults --------------------------------------------------------------------------------

    def set_fault(self, fault: SimFault, compartment: int | None = None) -> None:
        with self._lock:
            self._faults.add((fault, compartment))

    def clear_fault(self, fault: SimFault, compartment: int | None = None) -> None:
        with self._lock:
            self._faults.discard((fault, compartment))

    def _has(self, fault: SimFault, compartment: int | None) -> bool:
        return (fault, None) in self._faults or (fault, compartment) in self._faults

    # -- driver interface ----------------------------------------------------------------------

    def subscribe(self, handler: EventHandler) -> None:
        self._dispatcher.subscribe(handler)

    def open_door(self, compartment: int) -> None:
        door = self._door(compartment)
        self._online()
        self._sleep(self._timing.open_delay)
        if self._has(SimFault.JAMMED, compartment):
            now = self._clock()
            self._dispatcher.emit(
                Fault(self.bank_id, compartment, "jammed", "lock did not release", now)
            )
            raise DoorDidNotOpen(compartment, "jammed")
        with self._lock:
            was_open, door.open = door.open, True
        if not was_open:
            self._dispatcher.emit(DoorOpened(self.bank_id, compartment, self._clock()))

    def read(self, compartment: int) -> CompartmentReading:
        door = self._door(compartment)
        self._online()
        self._sleep(self._timing.read_delay)
        with self._lock:
            state = DoorState.OPEN if door.open else DoorState.CLOSED
            return CompartmentReading(compartment, state, self._reported(compartment, door))

    def close(self) -> None:
        """Nothing to release in memory."""

    # -- people at the bank --------------------------------------------------------------------

    def close_door(self, compartment: int) -> bool:
        """Push the door shut; False when it does not latch (``LEFT_OPEN``) or was shut."""
        door = self._door(compartment)
        with self._lock:
            if not door.open or self._has(SimFault.LEFT_OPEN, compartment):
                return False
            door.open = False
        self._emit(DoorClosed(self.bank_id, compartment, self._clock()))
        return True

    def put_item(self, compartment: int) -> None:
        """Put one item in through the open door; raises ``ValueError`` if the door is shut."""
        self._change_items(compartment, +1)

    def take_item(self, compartment: int) -> None:
        """Take one item out through the open door."""
        self._change_items(compartment, -1)

    def present_card(self, credential: str, reader: str = "reader-1") -> None:
        self._emit(CardRead(self.bank_id, reader, credential, self._clock()))

    def is_open(self, compartment: int) -> bool:
        return self._door(compartment).open

    def items_in(self, compartment: int) -> int:
        return self._door(compartment).items

    # -- internals -----------------------------------------------------------------------------

    def _change_items(self, compartment: int, delta: int) -> None:
        door = self._door(compartment)
        with self._lock:
            if not door.open:
                raise ValueError(f"door {compartment} is shut")
            if door.items + delta < 0:
                raise ValueError(f"compartment {compartment} is empty")
            before = self._reported(compartment, door)
            door.items += delta
            after = self._reported(compartment, door)
        if after is not None and after != before:
            self._emit(OccupancyChanged(self.bank_id, compartment, after, self._clock()))

    def _reported(self, compartment: int, door: _Door) -> bool | None:
        truth = door.items > 0
        return not truth if self._has(SimFault.SENSOR_DISAGREES, compartment) else truth

    def _emit(self, event: DoorClosed | OccupancyChanged | CardRead) -> None:
        # An offline controller reports nothing; people still act on the doors.
        if not self._has(SimFault.OFFLINE, None):
            self._dispatcher.emit(event)

    def _online(self) -> None:
        if self._has(SimFault.OFFLINE, None):
            raise ControllerOffline(f"controller of {self.bank_id} does not answer")

    def _door(self, compartment: int) -> _Door:
        try:
            return self._doors[compartment]
        except KeyError:
            raise UnknownCompartment(f"bank {self.bank_id} has no door {compartment}") from None
