"""A bank on real serial lock boards (emulated on a pseudo-terminal): loading, a patron's
pickup and a return go through the bridge's own services and the serial driver's poller, the
way they would at a bank wired to Kerong KR-CU16 boards."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.loading import ScanOutcome, scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_card
from bridge.services.return_doors import open_return_door
from bridge.services.wiring import driver_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow
from bridge.storage.tables.returns import DepositRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.serial.driver import SerialBankDriver
from lockers.drivers.serial.emulator import BoardEmulator
from tests.flows.conftest import messages, state_of
from tests.support.clock import Clock
from tests.support.db import both_databases
from tests.support.runtime import flow_config, make_runtime

BOARD = 0


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the boards' events never reached the bank"
        time.sleep(0.02)


@pytest.fixture
def boards() -> Iterator[BoardEmulator]:
    with BoardEmulator("kerong-cu16", {BOARD: 16}) as emulator:
        yield emulator


@pytest.fixture
def serial_rt(
    tmp_path: Path,
    boards: BoardEmulator,
    db_engine: Engine,
    redis_conn: Any,
    clock: Clock,
    ils: MemoryIls,
) -> Iterator[Runtime]:
    cfg = flow_config(tmp_path)
    cfg["banks"][0]["driver"] = {
        "kind": "serial",
        "port": boards.path,
        "family": "kerong-cu16",
        "baud": 19200,
        "poll_interval_seconds": 0.03,
        "reply_timeout_seconds": 0.2,
        "open_confirm_seconds": 0.02,
        "offline_after_misses": 3,
        "door_ranges": [{"first": 1, "last": 16, "board": BOARD, "first_lock": 1, "sensors": True}],
    }
    rt = make_runtime(load_settings(None, **cfg), db_engine, redis_conn, clock, ils)
    driver = driver_for(rt, "main-lobby")
    assert isinstance(driver, SerialBankDriver)
    time.sleep(0.1)  # the poller's first (baseline) reading
    yield rt
    driver.close()


def door_open_stored(rt: Runtime, number: int) -> Callable[[], bool]:
    def check() -> bool:
        from bridge.storage.tables.core import CompartmentRow

        with unit_of_work(rt.sessions) as s:
            return bool(
                s.scalars(
                    select(CompartmentRow.door_open).where(
                        CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == number
                    )
                ).one()
            )

    return check


@both_databases
def test_loading_then_pickup_through_the_boards(
    serial_rt: Runtime, boards: BoardEmulator, ils: MemoryIls
) -> None:
    rt = serial_rt
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")

    scanned = scan_item(rt, "main-lobby", "B1", "staff:ann")

    assert scanned.outcome is ScanOutcome.DOOR_OPEN
    door = scanned.compartment
    assert door is not None and boards.is_open(BOARD, door)
    eventually(door_open_stored(rt, door))
    boards.set_sensor(BOARD, door, True)  # staff put the book in ...
    boards.shut(BOARD, door)  # ... and push the door shut
    eventually(lambda: state_of(rt, door) == "loaded")
    [note] = messages(rt)
    assert note.patron == "P1" and note.facts["doors"] == [door]

    picked = pickup_with_card(rt, "main-lobby", "P1", "1234", kiosk="k1")

    assert picked.outcome is PickupOutcome.OPENED and picked.opened == (door,)
    assert boards.opens() == [(BOARD, door), (BOARD, door)]
    assert ils.item_status("B1").status.on_loan
    eventually(door_open_stored(rt, door))
    boards.set_sensor(BOARD, door, False)  # the patron takes the book ...
    boards.shut(BOARD, door)
    eventually(lambda: state_of(rt, door) == "free")


def test_a_return_through_the_boards_records_one_deposit(
    serial_rt: Runtime, boards: BoardEmulator
) -> None:
    rt = serial_rt
    opened = open_return_door(rt, "main-lobby", "B3")

    assert opened.opened == 13  # the first return door
    assert boards.is_open(BOARD, 13)
    eventually(door_open_stored(rt, 13))
    boards.set_sensor(BOARD, 13, True)
    boards.shut(BOARD, 13)
    eventually(lambda: state_of(rt, 13) == "return_occupied")

    def deposits() -> list[tuple[str, int]]:
        with unit_of_work(rt.sessions) as s:
            return [(d.item_barcode, d.compartment) for d in s.scalars(select(DepositRow))]

    eventually(lambda: deposits() != [])
    time.sleep(0.2)  # more reads of the shut door must not record it again
    assert deposits() == [("B3", 13)]


def test_a_jammed_board_lock_goes_out_of_service_and_a_pulled_line_marks_the_bank_offline(
    serial_rt: Runtime, boards: BoardEmulator
) -> None:
    rt = serial_rt
    boards.jam(BOARD, 13)
    refused = open_return_door(rt, "main-lobby", "B4")
    assert refused.opened is None and refused.door_failed
    assert state_of(rt, 13) == "out_of_service"  # a door that will not open is taken out
    assert not boards.is_open(BOARD, 13)
    opened = open_return_door(rt, "main-lobby", "B4")
    assert opened.opened == 14 and boards.is_open(BOARD, 14)

    boards.unplugged = True

    def online() -> bool:
        with unit_of_work(rt.sessions) as s:
            return s.get(BankRow, "main-lobby").controller_online  # type: ignore[union-attr]

    eventually(lambda: not online())
    boards.unplugged = False
    boards.set_sensor(BOARD, 14, True)
    boards.shut(BOARD, 14)  # shut while nobody listened: seen once the line is back
    eventually(lambda: state_of(rt, 14) == "return_occupied")
    eventually(online)  # the board answers again: the bank is online without any door opening
