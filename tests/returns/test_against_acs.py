"""Returns end to end: a real `lockerbridge worker` process checks deposits in over TCP with the
SIP2 adapter against the reference ACS (Koha behaviour, sample catalogue)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.returns.recording import record_deposit
from bridge.services.returns.worklist import returns_overview
from bridge.services.sweeper import sweep_outbox
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.returns import DepositRow
from sip2.acs.server import ReferenceACS
from tests.faults.harness import config_toml

HUGO_HOLD_ITEM = "39000000000003"  # on loan to Ben; its return at MAIN-LOCKER fills Hugo's hold
ANA_DVD = "39000000000010"  # on loan to Ana, lives at MAIN: goes home from the lockers


@pytest.fixture
def setup(
    tmp_path: Path, acs: ReferenceACS, embedded_redis: Any, redis_conn: Redis
) -> Iterator[tuple[Runtime, Path]]:
    db_url = f"sqlite:///{tmp_path}/returns.db"
    upgrade(make_engine(db_url))
    cfg = tmp_path / "lockerbridge.toml"
    cfg.write_text(config_toml(db_url, embedded_redis.url, acs.address[1], "s" * 40))
    settings: Settings = load_settings(cfg)
    engine = make_engine(db_url)
    rt = Runtime.over(settings, engine, redis_conn)
    yield rt, cfg
    rt.close()


def _worker_burst(cfg: Path) -> None:
    env = dict(os.environ, LOCKERBRIDGE_CONFIG=str(cfg))
    done = subprocess.run(
        [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(cfg), "worker", "--burst"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


@pytest.mark.slow
def test_a_worker_process_checks_deposits_in_over_sip2_backdated_at_the_bank(
    setup: tuple[Runtime, Path], acs: ReferenceACS, tmp_path: Path
) -> None:
    rt, cfg = setup
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    ids = {
        barcode: record_deposit(
            rt, bank_id="main-lobby", compartment=3, item_barcode=barcode, deposited_at=when
        )
        for barcode in (HUGO_HOLD_ITEM, ANA_DVD, "NOT-A-BARCODE")
    }
    _worker_burst(cfg)
    with unit_of_work(rt.sessions) as s:
        rows = {b: s.get(DepositRow, i) for b, i in ids.items()}
    assert {b: (r.state, r.reason) for b, r in rows.items() if r} == {
        HUGO_HOLD_ITEM: ("needs_staff", "hold_here"),
        ANA_DVD: ("needs_staff", "transit"),
        "NOT-A-BARCODE": ("needs_staff", "unknown_item"),
    }
    [hold_checkin] = acs.ledger.checkins(HUGO_HOLD_ITEM)
    assert hold_checkin.location == "MAIN-LOCKER"
    assert hold_checkin.return_date is not None
    assert abs(hold_checkin.return_date - when) <= timedelta(seconds=1)
    assert len(acs.ledger.checkins(ANA_DVD)) == 1
    overview = returns_overview(rt)
    assert overview.backlog == 0
    assert [e.suggestion for e in overview.needs_staff if e.reason == "hold_here"] == [
        "load_for_pickup"
    ]


@pytest.mark.slow
def test_a_lost_reply_from_the_acs_is_verified_and_the_item_checked_in_once(
    setup: tuple[Runtime, Path], acs: ReferenceACS
) -> None:
    rt, cfg = setup
    acs.faults.drop_replies = 1
    d = record_deposit(
        rt,
        bank_id="main-lobby",
        compartment=3,
        item_barcode=ANA_DVD,
        deposited_at=datetime.now(UTC),
    )
    _worker_burst(cfg)  # the reply is lost: the deposit waits for a short retry
    with unit_of_work(rt.sessions) as s:
        assert s.get(DepositRow, d).state == "waiting_for_ils"  # type: ignore[union-attr]
    rt.redis.flushall()  # no rq scheduler here: the sweeper sends the retry once it is due
    time.sleep(2.1)
    sweep_outbox(rt)
    _worker_burst(cfg)
    with unit_of_work(rt.sessions) as s:
        row = s.get(DepositRow, d)
        assert row is not None and (row.state, row.reason) == ("needs_staff", "transit")
    assert len(acs.ledger.checkins(ANA_DVD)) == 1
