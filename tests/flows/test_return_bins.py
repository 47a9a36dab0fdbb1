"""Return doors as bins under parallel returns: whatever the interleaving of kiosks, a door never
takes more returns than its capacity, every return that got a door is a deposit, and once every
bin is full the kiosk says so. SQLite and PostgreSQL, simulated doors wired to the real event
handling."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.services.return_doors import open_return_door
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.returns import DepositRow
from tests.flows.conftest import sim
from tests.support.db import both_databases
from tests.support.runtime import flow_config

BIN = 3


@pytest.fixture
def flow_settings(tmp_path: Path) -> Settings:
    cfg = flow_config(tmp_path)
    for r in cfg["banks"][0]["compartment_ranges"]:
        if r.get("purpose") == "return":
            r["capacity"] = BIN
    return load_settings(None, **cfg)


def _return(rt: Runtime, item: str) -> int | None:
    """One patron at a kiosk: a door opens, the item goes in, the door shuts."""
    opened = open_return_door(rt, "main-lobby", item).opened
    if opened is not None:
        sim(rt).put_item(opened)
        assert sim(rt).close_door(opened)
    return opened


def _bins(rt: Runtime) -> dict[int, tuple[str, int, int]]:
    with unit_of_work(rt.sessions) as s:
        return {
            r.number: (r.state, r.deposits, r.capacity)
            for r in s.scalars(
                select(CompartmentRow).where(
                    CompartmentRow.bank_id == "main-lobby", CompartmentRow.purpose == "return"
                )
            )
        }


@both_databases
def test_parallel_returns_never_overfill_a_bin_and_each_one_is_recorded(rt: Runtime) -> None:
    bins = _bins(rt)
    room = BIN * len(bins)
    with ThreadPoolExecutor(6) as pool:
        first = list(pool.map(lambda n: _return(rt, f"R{n}"), range(room)))
    got = [d for d in first if d is not None]
    # Doors open at the same moment go to different patrons; the rest try again afterwards.
    rest = [_return(rt, f"S{n}") for n in range(room - len(got))]
    assert None not in rest
    assert _return(rt, "ONE-TOO-MANY") is None  # every bin full: the kiosk says so

    after = _bins(rt)
    assert all(state == "return_occupied" and count == BIN for state, count, _ in after.values())
    with unit_of_work(rt.sessions) as s:
        per_door = dict(
            s.execute(
                select(DepositRow.compartment, func.count()).group_by(DepositRow.compartment)
            ).all()
        )
    assert per_door == dict.fromkeys(bins, BIN)


def test_a_new_capacity_applies_at_the_next_start_to_a_bin_holding_returns(
    rt: Runtime, tmp_path: Path, db_engine: Any, redis_conn: Any
) -> None:
    door = _return(rt, "R1")
    assert door is not None
    cfg = flow_config(tmp_path)
    for r in cfg["banks"][0]["compartment_ranges"]:
        if r.get("purpose") == "return":
            r["capacity"] = BIN + 2
    restarted = Runtime.over(load_settings(None, **cfg), db_engine, redis_conn, rt.clock)
    assert sync_banks(restarted)["updated"] == 2
    assert _bins(restarted)[door] == ("return_occupied", 1, BIN + 2)


def test_a_changed_purpose_applies_at_the_next_start_to_empty_doors_only(
    rt: Runtime, tmp_path: Path, db_engine: Any, redis_conn: Any
) -> None:
    bins = set(_bins(rt))
    door = _return(rt, "R1")
    assert door is not None
    cfg = flow_config(tmp_path)
    for r in cfg["banks"][0]["compartment_ranges"]:
        if r.get("purpose") == "return":
            r["purpose"] = "pickup"
    restarted = Runtime.over(load_settings(None, **cfg), db_engine, redis_conn, rt.clock)
    sync_banks(restarted)
    with unit_of_work(restarted.sessions) as s:
        doors = {
            r.number: (r.purpose, r.state)
            for r in s.scalars(
                select(CompartmentRow).where(
                    CompartmentRow.bank_id == "main-lobby", CompartmentRow.number.in_(bins)
                )
            )
        }
    # The bin holding a return stays one until staff empty it; the empty bins take holds now.
    assert doors == {
        n: ("return", "return_occupied") if n == door else ("pickup", "free") for n in bins
    }
