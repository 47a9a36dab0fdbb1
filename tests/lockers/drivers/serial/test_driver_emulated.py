"""The serial driver against lock boards emulated on a pseudo-terminal (real pyserial, real
pty, real threads): every family end to end, then the faults a line really has."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from lockers.drivers.base import (
    DoorClosed,
    DoorOpened,
    DoorState,
    DriverEvent,
    EventQueue,
    Fault,
    OccupancyChanged,
)
from lockers.drivers.serial.driver import SerialBankDriver, SerialConfig
from lockers.drivers.serial.emulator import BoardEmulator
from lockers.drivers.serial.families import FamilyOptions
from lockers.drivers.serial.frames import BoardStatus
from lockers.drivers.serial.poller import DoorWiring, Polarity, PollSettings
from lockers.drivers.serial.transport import Line, LineDown, LineSettings, NoReply
from lockers.drivers.serial.xor8a import Xor8aCodec
from lockers.errors import ControllerOffline, DoorDidNotOpen

FAST = PollSettings(interval=0.03, debounce_reads=2, offline_after=3)
FAMILY_BOARD = {"xor8a": 1, "kerong-cu16": 0, "kerong-cu48": 0, "wkly": 0}
LOCKS = {"xor8a": 24, "kerong-cu16": 16, "kerong-cu48": 48, "wkly": 24}


def config(
    emulator: BoardEmulator,
    doors: list[DoorWiring],
    *,
    echo: bool = False,
    polarity: Polarity | None = None,
    timeout: float = 0.3,
) -> SerialConfig:
    return SerialConfig(
        line=LineSettings(emulator.path, baud=9600, timeout=timeout, echo=echo),
        family=emulator.family,
        doors=tuple(doors),
        options=FamilyOptions(locks_per_board=24),
        polarity=polarity or Polarity(),
        poll=FAST,
        confirm_delay=0.02,
    )


@pytest.fixture
def drivers() -> Iterator[list[SerialBankDriver]]:
    made: list[SerialBankDriver] = []
    yield made
    for driver in made:
        driver.close()


def start(
    drivers: list[SerialBankDriver], bank: str, cfg: SerialConfig
) -> tuple[SerialBankDriver, EventQueue]:
    driver = SerialBankDriver(bank, cfg)
    drivers.append(driver)
    events = EventQueue()
    driver.subscribe(events)
    return driver, events


def next_of(events: EventQueue, kind: type[DriverEvent], timeout: float = 3.0) -> DriverEvent:
    while True:
        event = events.get(timeout=timeout)
        if isinstance(event, kind):
            return event


def quiet(events: EventQueue, seconds: float = 0.3) -> list[DriverEvent]:
    seen = []
    try:
        while True:
            seen.append(events.get(timeout=seconds))
    except queue.Empty:
        return seen


@pytest.mark.parametrize("family", sorted(FAMILY_BOARD))
def test_each_family_opens_a_door_and_reports_it_opened_then_closed_once(
    family: str, drivers: list[SerialBankDriver]
) -> None:
    board = FAMILY_BOARD[family]
    with BoardEmulator(family, {board: LOCKS[family]}) as emu:
        doors = [DoorWiring(1, board, 1, 1), DoorWiring(2, board, LOCKS[family], None)]
        driver, events = start(drivers, "b1", config(emu, doors))
        assert driver.read(2).door is DoorState.CLOSED
        quiet(events, 0.15)  # the baseline reading reports nothing

        driver.open_door(2)

        assert emu.is_open(board, LOCKS[family])
        assert driver.read(2).door is DoorState.OPEN
        opened = next_of(events, DoorOpened)
        assert (opened.bank_id, opened.compartment) == ("b1", 2)  # type: ignore[union-attr]
        emu.shut(board, LOCKS[family])
        closed = next_of(events, DoorClosed)
        assert closed.compartment == 2  # type: ignore[union-attr]
        assert quiet(events) == []


def test_a_door_opened_by_hand_gives_opened_then_closed_exactly_once(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("xor8a", {1: 24}) as emu:
        _driver, events = start(drivers, "b1", config(emu, [DoorWiring(5, 1, 5)]))
        quiet(events, 0.15)
        emu.open_by_hand(1, 5)
        assert next_of(events, DoorOpened).compartment == 5  # type: ignore[union-attr]
        assert quiet(events, 0.3) == []  # open for many reads: still one event
        emu.shut(1, 5)
        assert next_of(events, DoorClosed).compartment == 5  # type: ignore[union-attr]
        assert quiet(events, 0.3) == []
        assert emu.opens() == []  # no command was involved


def test_a_door_seen_open_by_fewer_reads_than_the_debounce_reports_nothing(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("xor8a", {1: 24}) as emu:
        cfg = config(emu, [DoorWiring(5, 1, 5)])
        # Reads at least 50 ms apart: a door open for 80 ms is seen by two of them, maybe
        # three on a busy machine, never the five a change needs here.
        cfg = SerialConfig(**{**cfg.__dict__, "poll": PollSettings(0.05, 5, 3)})
        _driver, events = start(drivers, "b1", cfg)
        quiet(events, 0.2)
        for _ in range(3):
            emu.open_by_hand(1, 5)
            time.sleep(0.08)
            emu.shut(1, 5)
            time.sleep(0.1)
        assert quiet(events, 0.3) == []


def test_a_jammed_lock_that_stays_shut_raises_door_did_not_open(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("kerong-cu16", {0: 16}) as emu:
        driver, events = start(drivers, "b1", config(emu, [DoorWiring(3, 0, 3, 3)]))
        emu.jam(0, 3)
        with pytest.raises(DoorDidNotOpen, match="jammed"):
            driver.open_door(3)
        assert quiet(events, 0.2) == []


def test_the_adapters_echo_is_never_taken_for_the_boards_reply(
    drivers: list[SerialBankDriver],
) -> None:
    # On these boards "open, lock now open" is the very bytes of the command: without echo
    # suppression the echo of an open command would say a jammed lock opened.
    with BoardEmulator("xor8a", {1: 24}) as emu:
        emu.echo = True
        driver, _ = start(
            drivers, "b1", config(emu, [DoorWiring(1, 1, 1), DoorWiring(2, 1, 2)], echo=True)
        )
        emu.jam(1, 1)
        with pytest.raises(DoorDidNotOpen):
            driver.open_door(1)
        driver.open_door(2)
        assert driver.read(2).door is DoorState.OPEN
        assert driver.read(1).door is DoorState.CLOSED


def test_pulling_the_line_raises_one_fault_and_it_recovers_by_itself(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("wkly", {0: 24}) as emu:
        driver, events = start(drivers, "b1", config(emu, [DoorWiring(1, 0, 1)], timeout=0.05))
        quiet(events, 0.1)
        emu.unplugged = True
        fault = next_of(events, Fault)
        assert (fault.code, fault.compartment) == ("offline", None)  # type: ignore[union-attr]
        with pytest.raises(ControllerOffline):
            driver.open_door(1)
        assert [e for e in quiet(events, 0.3) if isinstance(e, Fault)] == []  # reported once
        emu.unplugged = False
        back = next_of(events, Fault)
        assert back.code == "recovered"  # type: ignore[union-attr]
        driver.open_door(1)
        assert isinstance(next_of(events, DoorOpened), DoorOpened)


def test_a_checksum_error_or_a_partial_frame_is_a_miss_not_an_event(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("kerong-cu48", {0: 48}) as emu:
        cfg = config(emu, [DoorWiring(1, 0, 1, 1)])
        cfg = SerialConfig(**{**cfg.__dict__, "poll": PollSettings(0.03, 2, 5)})
        driver, events = start(drivers, "b1", cfg)
        quiet(events, 0.1)
        emu.corrupt_next(1)
        emu.truncate_next(1)  # two misses in a row: fewer than offline_after (5)
        emu.split_replies = True  # the rest arrive in two pieces
        assert quiet(events, 0.4) == []
        driver.open_door(1)
        assert isinstance(next_of(events, DoorOpened), DoorOpened)


def test_a_corrupted_reply_to_open_is_settled_by_the_status_read(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("xor8a", {1: 24}) as emu:
        driver, _ = start(drivers, "b1", config(emu, [DoorWiring(1, 1, 1)]))
        emu.corrupt_next(1)
        driver.open_door(1)
        assert emu.is_open(1, 1)


def test_occupancy_and_inverted_polarity(drivers: list[SerialBankDriver]) -> None:
    with BoardEmulator("kerong-cu16", {0: 16}) as emu:
        emu.inverted = True  # wired the other way round: bit clear = open / occupied
        flipped = Polarity(lock_open_when_set=False, sensor_occupied_when_set=False)
        driver, events = start(
            drivers, "b1", config(emu, [DoorWiring(4, 0, 4, 4)], polarity=flipped)
        )
        assert driver.read(4).door is DoorState.CLOSED
        assert driver.read(4).occupied is False
        quiet(events, 0.15)
        emu.set_sensor(0, 4, True)
        change = next_of(events, OccupancyChanged)
        assert change.occupied is True  # type: ignore[union-attr]
        driver.open_door(4)
        assert isinstance(next_of(events, DoorOpened), DoorOpened)


def test_pushed_change_reports_catch_a_door_opened_and_shut_between_two_reads(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("wkly", {0: 24}, push_reports=True) as emu:
        cfg = config(emu, [DoorWiring(7, 0, 7)])
        cfg = SerialConfig(**{**cfg.__dict__, "poll": PollSettings(0.6, 2, 3)})
        _driver, events = start(drivers, "b1", cfg)
        quiet(events, 0.1)
        emu.open_by_hand(0, 7)
        emu.shut(0, 7)
        assert [type(e) for e in quiet(events, 1.0)] == [DoorOpened, DoorClosed]


def test_two_banks_share_a_line_and_one_bank_spans_two_boards(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("xor8a", {1: 24, 2: 24}) as emu:
        east, east_events = start(
            drivers, "east", config(emu, [DoorWiring(1, 1, 1), DoorWiring(2, 2, 1)])
        )
        west, west_events = start(drivers, "west", config(emu, [DoorWiring(1, 1, 2)]))
        assert east.line is west.line
        quiet(east_events, 0.15)
        quiet(west_events, 0.01)
        west.open_door(1)
        east.open_door(2)
        assert emu.is_open(1, 2) and emu.is_open(2, 1) and not emu.is_open(1, 1)
        assert next_of(west_events, DoorOpened).compartment == 1  # type: ignore[union-attr]
        got = next_of(east_events, DoorOpened)
        assert (got.bank_id, got.compartment) == ("east", 2)  # type: ignore[union-attr]
        assert [e for e in quiet(west_events, 0.2) if isinstance(e, DoorOpened)] == []


def test_boards_behind_a_serial_to_ethernet_converter_are_driven_over_tcp(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("kerong-cu16", {0: 16}, tcp=True) as emu:
        assert not emu.path.startswith("/")  # "127.0.0.1:<port>", as an installer writes it
        driver, events = start(drivers, "b1", config(emu, [DoorWiring(1, 0, 1, 1)]))
        quiet(events, 0.1)
        driver.open_door(1)
        assert emu.is_open(0, 1)
        assert isinstance(next_of(events, DoorOpened), DoorOpened)
        emu.set_sensor(0, 1, True)
        emu.shut(0, 1)
        assert [type(e) for e in quiet(events, 0.4)] == [OccupancyChanged, DoorClosed]


def test_a_second_user_of_the_same_port_is_refused_not_interleaved(
    drivers: list[SerialBankDriver],
) -> None:
    with BoardEmulator("xor8a", {1: 24}) as emu:
        driver, _ = start(drivers, "b1", config(emu, [DoorWiring(1, 1, 1)]))
        driver.read(1)  # the port is open now
        other = Line(LineSettings(emu.path, timeout=0.1), Xor8aCodec())
        with pytest.raises(LineDown, match="cannot open"):
            other.exchange(Xor8aCodec().read_board(1))
        other.close()
        driver.open_door(1)  # the owner carries on


def test_a_late_answer_to_an_earlier_request_is_never_taken_for_the_current_one() -> None:
    with BoardEmulator("xor8a", {1: 24, 2: 24}, reply_delay=0.15) as emu:
        emu.open_by_hand(2, 9)
        line = Line(LineSettings(emu.path, timeout=0.1), Xor8aCodec())
        try:
            with pytest.raises(NoReply):
                line.exchange(Xor8aCodec().read_board(1))  # board 1 answers, but too late
            emu.reply_delay = 0.0
            status = line.exchange(Xor8aCodec().read_board(2))
            assert isinstance(status, BoardStatus) and status.board == 2
            assert [n for n, bit in status.locks.items() if bit] == [9]
        finally:
            line.close()
