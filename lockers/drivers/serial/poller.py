"""A poller per serial line: reads every board in turn and reports real transitions only.

Most boards never speak unasked, so door and sensor changes are found by reading. A new state
must be read ``debounce_reads`` times in a row before it is reported (a door bouncing on its
latch is one event, not five); the first reading after start is the baseline and reports
nothing. A board that misses ``offline_after`` reads in a row is reported offline (``Fault``
with code "offline") and, when it answers again, recovered (code "recovered").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from lockers.drivers.base import (
    Dispatcher,
    DoorClosed,
    DoorOpened,
    DriverEvent,
    Fault,
    OccupancyChanged,
)
from lockers.drivers.serial.frames import BoardStatus, ChangeReport
from lockers.drivers.serial.transport import Line, LineError
from lockers.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoorWiring:
    compartment: int
    board: int
    lock: int
    sensor: int | None = None  # the infrared / occupancy input, when the door has one


@dataclass(frozen=True)
class Polarity:
    """Boards are wired both ways: which raw bit means "open" and which means "occupied"."""

    lock_open_when_set: bool = True
    sensor_occupied_when_set: bool = True

    def door_open(self, bit: bool) -> bool:
        return bit if self.lock_open_when_set else not bit

    def occupied(self, bit: bool) -> bool:
        return bit if self.sensor_occupied_when_set else not bit


@dataclass(frozen=True)
class PollSettings:
    interval: float = 0.3
    debounce_reads: int = 2
    offline_after: int = 3


@dataclass
class BankWiring:
    bank_id: str
    doors: dict[int, DoorWiring]
    polarity: Polarity = Polarity()
    dispatcher: Dispatcher = field(default_factory=Dispatcher)

    def boards(self) -> set[int]:
        return {d.board for d in self.doors.values()}


@dataclass
class Debouncer:
    """One input's reported state: changes only after ``needed`` agreeing reads in a row."""

    reported: bool | None = None
    candidate: bool | None = None
    count: int = 0

    def feed(self, value: bool, needed: int) -> bool:
        """True when ``value`` becomes the reported state now (a real transition)."""
        if self.reported is None:
            self.reported = value
            return False
        if value == self.reported:
            self.candidate, self.count = None, 0
            return False
        if value != self.candidate:
            self.candidate, self.count = value, 0
        self.count += 1
        if self.count >= needed:
            self.reported, self.candidate, self.count = value, None, 0
            return True
        return False


class LinePoller:
    """Owns the polling thread of one line; banks join and leave while it runs."""

    def __init__(self, line: Line, settings: PollSettings, clock: Clock) -> None:
        self.line = line
        self.settings = settings
        self._clock = clock
        self._banks: dict[str, BankWiring] = {}
        self._doors: dict[tuple[str, int], Debouncer] = {}
        self._sensors: dict[tuple[str, int], Debouncer] = {}
        self._misses: dict[int, int] = {}
        self._offline: set[int] = set()
        self._reports: list[ChangeReport] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        line.on_report = self._on_report

    def add(self, bank: BankWiring) -> None:
        with self._lock:
            self._banks[bank.bank_id] = bank
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"lockboards:{self.line.settings.url}", daemon=True
            )
            self._thread.start()

    def remove(self, bank_id: str) -> int:
        """Banks left on the line."""
        with self._lock:
            self._banks.pop(bank_id, None)
            return len(self._banks)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def seen_open(self, bank_id: str, compartment: int) -> None:
        """An open command's reply or confirming read saw the door open: that reading counts
        now, so the opening is reported even if the line drops before the next poll."""
        with self._lock:
            bank = self._banks.get(bank_id)
            door = self._doors.setdefault((bank_id, compartment), Debouncer())
            if bank is None or door.reported is True:
                return
            door.reported, door.candidate, door.count = True, None, 0
        bank.dispatcher.emit(DoorOpened(bank_id, compartment, self._clock()))

    # -- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # The poller is the bank's only ears: it must outlive any surprise.
                log.exception("polling %s failed", self.line.settings.url)
            self._stop.wait(self.settings.interval)

    def poll_once(self) -> None:
        with self._lock:
            boards = sorted({b for bank in self._banks.values() for b in bank.boards()})
        for board in boards:
            if self._stop.is_set():
                return
            try:
                reply = self.line.exchange(self.line.codec.read_board(board))
            except LineError as exc:
                self._missed(board, str(exc))
                continue
            self._apply_reports()
            if isinstance(reply, BoardStatus):
                self._answered(board)
                self._apply(reply)

    def _apply(self, status: BoardStatus, *, needed: int | None = None) -> None:
        events: list[tuple[Dispatcher, DriverEvent]] = []
        needed = needed or self.settings.debounce_reads
        with self._lock:
            for bank in self._banks.values():
                for door in bank.doors.values():
                    if door.board == status.board:
                        events += [
                            (bank.dispatcher, e) for e in self._door(bank, door, status, needed)
                        ]
        for dispatcher, event in events:
            dispatcher.emit(event)

    def _door(
        self, bank: BankWiring, door: DoorWiring, status: BoardStatus, needed: int
    ) -> list[DriverEvent]:
        key = (bank.bank_id, door.compartment)
        at = self._clock()
        moved: DriverEvent | None = None
        bit = status.locks.get(door.lock)
        if bit is not None:
            opened = bank.polarity.door_open(bit)
            if self._doors.setdefault(key, Debouncer()).feed(opened, needed):
                kind = DoorOpened if opened else DoorClosed
                moved = kind(bank.bank_id, door.compartment, at)
        sensed: DriverEvent | None = None
        if door.sensor is not None and door.sensor in status.sensors:
            full = bank.polarity.occupied(status.sensors[door.sensor])
            if self._sensors.setdefault(key, Debouncer()).feed(full, needed):
                sensed = OccupancyChanged(bank.bank_id, door.compartment, full, at)
        # Seen in one read, things happened in this order: the door opened, the item went in
        # or out, the door shut. The bank judges a shut door by the reading before it.
        ordered = [sensed, moved] if isinstance(moved, DoorClosed) else [moved, sensed]
        return [e for e in ordered if e is not None]

    def _on_report(self, report: ChangeReport) -> None:
        # Called with the line busy (maybe by an open command): handlers must not run here,
        # as they may send a command themselves. The next poll applies it.
        with self._lock:
            self._reports.append(report)

    def _apply_reports(self) -> None:
        with self._lock:
            reports, self._reports = self._reports, []
        for report in reports:
            # The board reports an edge it has seen settle: no debounce on our side, so a
            # door opened and shut between two reads still counts.
            self._apply(BoardStatus(report.board, {report.lock: report.bit}), needed=1)

    def _missed(self, board: int, why: str) -> None:
        with self._lock:
            self._misses[board] = self._misses.get(board, 0) + 1
            if self._misses[board] < self.settings.offline_after or board in self._offline:
                return
            self._offline.add(board)
            banks = [b for b in self._banks.values() if board in b.boards()]
        log.warning("lock board %s offline: %s", board, why)
        for bank in banks:
            detail = f"board {board} on {self.line.settings.url} does not answer: {why}"
            bank.dispatcher.emit(Fault(bank.bank_id, None, "offline", detail, self._clock()))

    def _answered(self, board: int) -> None:
        with self._lock:
            self._misses[board] = 0
            if board not in self._offline:
                return
            self._offline.discard(board)
            banks = [b for b in self._banks.values() if board in b.boards()]
        log.warning("lock board %s answers again", board)
        for bank in banks:
            detail = f"board {board} on {self.line.settings.url} answers again"
            bank.dispatcher.emit(Fault(bank.bank_id, None, "recovered", detail, self._clock()))
