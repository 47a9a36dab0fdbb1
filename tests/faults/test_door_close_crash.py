"""The return door's close records its deposits in the commit that changes the door.

A process returns an item at a simulated bank and is ended (``os._exit``) right after the
door-close transaction commits, before it hands anything to a worker. Whatever survives must be
enough: the deposit is in the database with its check-in work, so the sweeper and a worker
check it in, backdated to the close. With the old shape (door state and scan deletion in one
commit, the deposit in a second) this test fails: after the first commit the door is occupied,
its scan is gone and no deposit exists.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import Engine, select

from bridge.config import Settings
from bridge.infra.crashpoints import CRASH_STATUS, ENV_CRASH_AT, ENV_TRACE
from bridge.runtime import QUEUE_NAMES, Runtime
from bridge.services.assembly import handle_event
from bridge.services.sweeper import sweep_outbox
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow, OutboxRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.returns import DepositRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.base import DoorClosed
from tests.support.config import REPO
from tests.support.db import both_databases
from tests.support.runtime import installed

BANK = "main-lobby"


@pytest.fixture
def crash_rt(
    settings: Settings,
    config_dict: dict[str, Any],
    db_engine: Engine,
    redis_conn: Redis,
    embedded_redis: Any,
) -> Iterator[tuple[Runtime, MemoryIls, dict[str, Any]]]:
    rt = Runtime.over(settings, db_engine, redis_conn)
    from bridge.services.bank_setup import sync_banks

    sync_banks(rt)
    ils = MemoryIls()
    ils.add_patron("P1", "1234")
    for item in ("R1", "R2"):
        ils.add_item(item, home="MAIN-LOCKER")
        ils.lend("P1", item)
    for bank in settings.banks:
        rt.cached(f"ils:{bank.id}", lambda: ils)
    spec = {
        "config": config_dict,
        "database_url": db_engine.url.render_as_string(hide_password=False),
        "redis": embedded_redis.url,
        "bank": BANK,
    }
    with installed(rt):
        yield rt, ils, spec


def _run_child(
    spec: dict[str, Any], items: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "tests.faults.crash_child"],
        input=json.dumps({**spec, "items": items}),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
        timeout=60,
    )


def _work(rt: Runtime) -> None:
    worker = SimpleWorker([rt.queue(n) for n in QUEUE_NAMES], connection=rt.redis)
    worker.work(burst=True, logging_level="WARNING")


@both_databases
def test_a_crash_right_after_the_return_door_closes_loses_no_deposit(
    crash_rt: tuple[Runtime, MemoryIls, dict[str, Any]],
) -> None:
    rt, ils, spec = crash_rt
    before = datetime.now(UTC)
    child = _run_child(spec, ["R1"], **{ENV_CRASH_AT: "doors.events.door_closed"})
    assert child.returncode == CRASH_STATUS, child.stderr
    assert "crash point doors.events.door_closed:1 reached" in child.stderr

    # What the crash left: the door occupied, its scan gone, and the deposit with its work.
    with unit_of_work(rt.sessions) as s:
        door = s.scalars(
            select(CompartmentRow).where(
                CompartmentRow.bank_id == BANK, CompartmentRow.number == 13
            )
        ).one()
        assert (door.state, door.door_open) == ("return_occupied", False)
        assert s.scalars(select(LoadRow).where(LoadRow.kind == "deposit")).all() == []
        deposits = s.scalars(select(DepositRow)).all()
        assert [(d.item_barcode, d.compartment, d.state) for d in deposits] == [
            ("R1", 13, "recorded")
        ]
        closed_at = deposits[0].deposited_at
        work = s.scalars(select(OutboxRow).where(OutboxRow.ref == str(deposits[0].id))).one()
        assert work.state == "pending"

    # The dead process never enqueued the check-in: the sweeper does, and a worker runs it.
    assert sweep_outbox(rt) >= 1
    _work(rt)
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(DepositRow.state)).all() == ["checked_in"]
    assert [(item, at) for item, at, _ in ils.checkins] == [("R1", "MAIN-LOCKER")]
    returned_at = ils.checkins[0][2]
    assert returned_at.replace(tzinfo=returned_at.tzinfo or UTC) == closed_at.replace(
        tzinfo=closed_at.tzinfo or UTC
    )
    assert before - timedelta(seconds=1) <= returned_at.replace(tzinfo=UTC) <= datetime.now(UTC)

    # The controller resends the close (it never saw our answer): nothing changes.
    handle_event(rt, DoorClosed(BANK, 13, datetime.now(UTC)))
    with unit_of_work(rt.sessions) as s:
        assert len(s.scalars(select(DepositRow)).all()) == 1
        assert s.scalars(select(OutboxRow.state)).all() == ["done"]  # no new work


@both_databases
def test_every_commit_of_a_return_is_traced_and_unset_changes_nothing(
    crash_rt: tuple[Runtime, MemoryIls, dict[str, Any]], tmp_path: Any
) -> None:
    rt, _ils, spec = crash_rt
    trace = tmp_path / "trace"
    child = _run_child(spec, ["R1"], **{ENV_TRACE: str(trace)})
    assert child.returncode == 0, child.stderr
    labels = [line.split()[1] for line in trace.read_text().splitlines()]
    # The kiosk's scan, the occupancy reading, the close (nothing after it for this flow).
    assert labels[0] == "return_doors.open_return_door"
    assert labels[-1] == "doors.events.door_closed"
    # Without the variables the same run goes through untouched.
    child = _run_child(spec, ["R2"])
    assert child.returncode == 0, child.stderr
    with unit_of_work(rt.sessions) as s:
        assert sorted(s.scalars(select(DepositRow.item_barcode)).all()) == ["R1", "R2"]
