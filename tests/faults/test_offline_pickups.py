"""Offline loans reach the ILS exactly once although the sending worker dies.

Real parts: a SQLite file, Redis, the reference ACS over TCP, and the sender in a separate
process that ends right after a named commit (``LOCKERBRIDGE_CRASH_AT``) or is killed while
the ACS has acted and its reply is lost. Another process then finishes the work; the ACS's
ledger must show each loan once, with no-block and its original transaction date.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.assembly import assemble
from bridge.config import load_settings
from bridge.crashpoints import CRASH_STATUS, ENV_CRASH_AT
from bridge.runtime import Runtime
from bridge.services import offline_loans
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_code
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.offline import OfflineLoanRow
from bridge.wiring import driver_for, sync_banks
from lockers.drivers.simulated import SimulatedBank
from sip2.acs.server import ReferenceACS
from tests.conftest import REPO, base_config

CATALOGUE = REPO / "examples" / "catalogue.json"
ITEMS = ("39000000000001", "39000000000013")  # Ana's and Chloé's holds at the main lobby


@pytest.fixture
def acs() -> Iterator[ReferenceACS]:
    with ReferenceACS(CATALOGUE, behaviour="koha") as server:
        yield server


@pytest.fixture
def spec(tmp_path: Path, acs: ReferenceACS, embedded_redis: Any, redis_conn: Any) -> dict[str, Any]:
    host, port = acs.address
    database_url = f"sqlite:///{tmp_path}/offline.db"
    config = base_config(
        tmp_path,
        database_url=database_url,
        outbox_lease_seconds=1,
        ils=[
            {
                "name": "main-ils",
                "profile": "koha",
                "host": host,
                "port": port,
                "institution": "DEMO",
                "timeout_seconds": 3,
            }
        ],
    )
    for bank in config["banks"]:
        bank.update(offline_pickup="codes", driver={"kind": "simulated", "door_delay_seconds": 0})
    upgrade(make_engine(database_url))
    return {"config": config, "database_url": database_url, "redis": embedded_redis.url}


@pytest.fixture
def rt(spec: dict[str, Any], redis_conn: Any) -> Iterator[Runtime]:
    runtime = Runtime.over(
        load_settings(None, **spec["config"]), make_engine(spec["database_url"]), redis_conn
    )
    sync_banks(runtime)
    assemble(runtime)
    yield runtime
    runtime.close()


def _picked_up_offline(rt: Runtime, acs: ReferenceACS) -> list[OfflineLoanRow]:
    sim = driver_for(rt, "main-lobby")
    assert isinstance(sim, SimulatedBank)
    codes = []
    for item in ITEMS:
        door = scan_item(rt, "main-lobby", item, "staff").compartment
        assert door is not None
        sim.put_item(door)
        assert sim.close_door(door)
        with unit_of_work(rt.sessions) as s:
            note = s.scalars(select(NotificationRow).order_by(NotificationRow.id.desc())).first()
            assert note is not None
            codes.append(note.secrets["code"])
    acs.go_down()
    for code in codes:
        assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.OPENED_OFFLINE
    acs.come_back()
    return _loans(rt)


def _loans(rt: Runtime) -> list[OfflineLoanRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(OfflineLoanRow).order_by(OfflineLoanRow.id)))
        s.expunge_all()
        return rows


def _child(spec: dict[str, Any], loans: list[int], **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if k != ENV_CRASH_AT}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.offline_sender_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**clean, **env},
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({**spec, "loans": loans}))
    proc.stdin.close()
    return proc


def _exactly_once(rt: Runtime, acs: ReferenceACS, loans: list[OfflineLoanRow]) -> None:
    for loan in loans:
        [sent] = acs.ledger.checkouts(loan.item_barcode)
        assert sent.no_block
        assert sent.transaction_date == loan.picked_up_at.replace(microsecond=0)
    assert [r.state for r in _loans(rt)] == ["recorded"] * len(loans)


@pytest.mark.parametrize(
    "label", ["offline_loans.send_offline_loan", "offline_loans._finish"], ids=["claim", "result"]
)
def test_a_sender_dying_after_a_commit_sends_each_loan_once(
    rt: Runtime, acs: ReferenceACS, spec: dict[str, Any], label: str
) -> None:
    loans = _picked_up_offline(rt, acs)
    ids = [r.id for r in loans]

    crashed = _child(spec, ids, **{ENV_CRASH_AT: label})
    assert crashed.wait(timeout=60) == CRASH_STATUS, crashed.stderr.read()  # type: ignore[union-attr]
    time.sleep(1.2)  # the lease (1 s here) runs out, as the sweeper would find it
    again = _child(spec, ids)
    assert again.wait(timeout=60) == 0, again.stderr.read()  # type: ignore[union-attr]
    offline_loans.replay_waiting(rt)
    for loan_id in ids:
        offline_loans.send_offline_loan(rt, loan_id)

    _exactly_once(rt, acs, loans)


def test_a_sender_killed_after_the_ils_acted_looks_before_sending_again(
    rt: Runtime, acs: ReferenceACS, spec: dict[str, Any]
) -> None:
    loans = _picked_up_offline(rt, acs)
    first = loans[0]
    acs.faults.drop_replies = 1  # the ACS lends the item; its reply never arrives

    proc = _child(spec, [first.id])
    deadline = time.monotonic() + 20
    while not acs.ledger.checkouts(first.item_barcode):
        assert time.monotonic() < deadline, "the checkout never reached the ACS"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(1.2)

    for loan in loans:
        offline_loans.send_offline_loan(rt, loan.id)

    _exactly_once(rt, acs, loans)
