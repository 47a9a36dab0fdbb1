"""The ``LockerDriver`` of a bank whose doors hang on RS-485 lock boards.

Banks on the same port share one ``Line`` and one ``LinePoller`` in the process (a board may
serve doors of several banks; a bank may span several boards). The line is opened on first use
and closed when its last bank closes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lockers.drivers.base import CompartmentReading, DoorState, EventHandler
from lockers.drivers.serial.families import FamilyOptions, codec_for
from lockers.drivers.serial.frames import BoardStatus, OpenReply
from lockers.drivers.serial.poller import BankWiring, DoorWiring, LinePoller, Polarity, PollSettings
from lockers.drivers.serial.transport import Line, LineError, LineSettings, Opener, open_port
from lockers.errors import ControllerOffline, DoorDidNotOpen, UnknownCompartment
from lockers.ports import Clock, system_clock


@dataclass(frozen=True)
class SerialConfig:
    """Everything one bank needs, as ``bridge`` reads it from the configuration."""

    line: LineSettings
    family: str
    doors: tuple[DoorWiring, ...]
    options: FamilyOptions = field(default_factory=FamilyOptions)
    polarity: Polarity = field(default_factory=Polarity)
    poll: PollSettings = field(default_factory=PollSettings)
    # After an open command without lock feedback, read the status this much later.
    confirm_delay: float = 0.3


class _Shared:
    def __init__(self, line: Line, poller: LinePoller, family: str) -> None:
        self.line, self.poller, self.family = line, poller, family


_registry: dict[str, _Shared] = {}
_registry_lock = threading.Lock()


def _attach(config: SerialConfig, bank: BankWiring, clock: Clock, opener: Opener) -> _Shared:
    with _registry_lock:
        shared = _registry.get(config.line.url)
        if shared is None:
            line = Line(config.line, codec_for(config.family, config.options), opener=opener)
            shared = _Shared(line, LinePoller(line, config.poll, clock), config.family)
            _registry[config.line.url] = shared
        elif shared.family != config.family or shared.line.settings != config.line:
            raise ValueError(
                f"{config.line.url} is already driven as {shared.family} at "
                f"{shared.line.settings.baud} baud; every bank on one line must agree"
            )
        shared.poller.add(bank)
        return shared


def _detach(url: str, bank_id: str) -> None:
    with _registry_lock:
        shared = _registry.get(url)
        if shared is None or shared.poller.remove(bank_id):
            return
        del _registry[url]
    shared.poller.stop()
    shared.line.close()


class SerialBankDriver:
    """``LockerDriver`` for one bank on one serial line."""

    def __init__(
        self,
        bank_id: str,
        config: SerialConfig,
        *,
        clock: Clock = system_clock,
        sleep: Callable[[float], None] = time.sleep,
        opener: Opener = open_port,
    ) -> None:
        self.bank_id = bank_id
        self.config = config
        doors = {d.compartment: d for d in config.doors}
        self._wiring = BankWiring(bank_id, doors, config.polarity)
        self._sleep = sleep
        self._shared = _attach(config, self._wiring, clock, opener)
        self._closed = False

    @property
    def line(self) -> Line:
        return self._shared.line

    def subscribe(self, handler: EventHandler) -> None:
        self._wiring.dispatcher.subscribe(handler)

    def open_door(self, compartment: int) -> None:
        door = self._door(compartment)
        codec = self.line.codec
        answered = True
        try:
            reply = self.line.exchange(codec.open_lock(door.board, door.lock))
        except LineError:
            answered, reply = False, None
        if (
            isinstance(reply, OpenReply)
            and reply.feedback is not None
            and self.config.polarity.door_open(reply.feedback)
        ):
            self._shared.poller.seen_open(self.bank_id, compartment)
            return
        # No feedback in the reply (or "still shut": a slow latch): the next read decides.
        self._sleep(self.config.confirm_delay)
        try:
            status = self._status(door.board)
        except ControllerOffline:
            if answered:
                raise ControllerOffline(
                    f"board {door.board} took the open command for door {compartment} "
                    "but did not answer the status read that confirms it"
                ) from None
            raise
        if self._door_open(door, status):
            self._shared.poller.seen_open(self.bank_id, compartment)
            return
        raise DoorDidNotOpen(compartment, "jammed" if answered else "no answer to open command")

    def read(self, compartment: int) -> CompartmentReading:
        door = self._door(compartment)
        status = self._status(door.board)
        state = DoorState.OPEN if self._door_open(door, status) else DoorState.CLOSED
        occupied = None
        if door.sensor is not None and door.sensor in status.sensors:
            occupied = self.config.polarity.occupied(status.sensors[door.sensor])
        return CompartmentReading(compartment, state, occupied)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _detach(self.config.line.url, self.bank_id)

    # -- internals -----------------------------------------------------------------------------

    def _status(self, board: int) -> BoardStatus:
        try:
            reply = self.line.exchange(self.line.codec.read_board(board))
        except LineError as exc:
            raise ControllerOffline(str(exc)) from exc
        if not isinstance(reply, BoardStatus):
            raise ControllerOffline(f"board {board} answered a status read with {reply!r}")
        return reply

    def _door_open(self, door: DoorWiring, status: BoardStatus) -> bool:
        bit = status.locks.get(door.lock)
        if bit is None:
            raise ControllerOffline(f"board {door.board} reported no lock {door.lock}")
        return self.config.polarity.door_open(bit)

    def _door(self, compartment: int) -> DoorWiring:
        try:
            return self._wiring.doors[compartment]
        except KeyError:
            raise UnknownCompartment(
                f"bank {self.bank_id} has no wired door {compartment}"
            ) from None
