"""The fault-injection run: deposits while workers, Redis and the ILS misbehave.

Deposits enter where they do in production: the kiosk's scan reserves a return door, and the
controller's door-close event (a simulated bank wired to the event handlers, as its driver is)
records the deposit in the transaction that changes the door. Real parts only: ``lockerbridge worker`` subprocesses (rq SimpleWorker) against a private
``redis-server`` on a free port, the reference SIP2 server (``sip2.acs.ReferenceACS``, Koha
behaviour) over TCP through the real SIP2 adapter, and PostgreSQL (SQLite when it is not
reachable). A controller thread SIGKILLs workers at random and respawns them (as systemd
would), Redis is killed and restarted empty once, and the ACS drops replies after acting and
goes down for a stretch. Time is compressed through the settings (short lease and sweep).

Counts come from our database and from the ACS's own ledger (what it *did*), so a check-in
that happened twice is seen even if we never noticed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services import events
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from bridge.services.sweeper import sweep_outbox
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.returns import DepositRow
from lockers.drivers.simulated import SimTiming, SimulatedBank
from sip2.acs.catalogue_file import catalogue_from_dict
from sip2.acs.server import ReferenceACS
from tests import sandbox
from tests.sandbox import Database, RedisServer

log = logging.getLogger("faults")

PATRON = "23000000009999"
BRANCH = sandbox.BRANCH
LEASE_SECONDS = 8
SWEEP_SECONDS = 1


@dataclass(frozen=True)
class Plan:
    deposits: int = 200
    workers: int = 3
    seed: int = 7
    database: str = "auto"  # auto | postgresql | sqlite
    kill_every: tuple[float, float] = (2.0, 5.0)  # seconds between worker kills
    # A worker lives at least this long (start-up takes a few seconds); a 200-deposit run
    # now drains in about 12 s, so with 10 s no worker was old enough to be killed in it.
    kill_min_age: float = 4.0
    deposit_gap: float = 0.03  # seconds between deposits
    acs_down_seconds: float = 4.0
    redis_down_seconds: float = 1.5
    drop_reply_every: int = 15  # every n-th deposit, the ACS loses one reply after acting
    deadline_seconds: float = 240.0


@dataclass
class Report:
    deposits: int = 0
    checked_in: int = 0
    needs_staff: int = 0
    lost: int = 0
    doubled: int = 0
    max_retry_delay: float = 0.0  # longest a deposit sat without a state change (s)
    worker_kills: int = 0
    redis_restarts: int = 0
    acs_outages: int = 0
    replies_dropped: int = 0
    elapsed: float = 0.0
    database: str = ""
    problems: list[str] = field(default_factory=list)
    slowest: list[str] = field(default_factory=list)  # the audit trail of the slowest deposit

    def table(self) -> str:
        rows = [
            ("deposits", str(self.deposits)),
            ("checked in", str(self.checked_in)),
            ("needs staff", str(self.needs_staff)),
            ("lost", str(self.lost)),
            ("checked in twice (ACS ledger)", str(self.doubled)),
            ("max retry delay", f"{self.max_retry_delay:.1f} s"),
            ("workers killed (SIGKILL)", str(self.worker_kills)),
            ("Redis killed and restarted", str(self.redis_restarts)),
            ("ACS outages / replies dropped", f"{self.acs_outages} / {self.replies_dropped}"),
            ("database", self.database),
            ("wall time", f"{self.elapsed:.1f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{'figure'.ljust(width)} | value", f"{'-' * width}-+------"]
        lines += [f"{k.ljust(width)} | {v}" for k, v in rows]
        return "\n".join(lines)


def catalogue(n: int) -> dict[str, Any]:
    """Items 0..n-1 on loan to one patron; every 10th lives at EAST (transit), every 25th
    deposit is a barcode the catalogue does not know (needs staff)."""
    items = []
    for i in range(n):
        if i % 25 == 24:
            continue
        items.append(
            {
                "barcode": barcode(i),
                "title": f"Book {i}",
                "home": "EAST" if i % 10 == 9 else BRANCH,
                "media": "book",
                "status": "charged",
                "charged_to": PATRON,
                "due": (datetime.now(UTC) + timedelta(days=21)).isoformat(),
            }
        )
    return {
        "institution": "DEMO",
        "branches": [
            {"code": BRANCH, "name": "Main lockers", "locker_bank": True},
            {"code": "EAST", "name": "East"},
        ],
        "accounts": [
            {
                "user": "lockers-main",
                "password": "demo-main",
                "institution": "DEMO",
                "location": BRANCH,
            }
        ],
        "patrons": [{"barcode": PATRON, "pin": "1234", "first_name": "Test", "last_name": "P"}],
        "items": items,
    }


def barcode(i: int) -> str:
    return f"39{i:012d}"


def config_toml(database_url: str, redis_url: str, acs_port: int, secret: str) -> str:
    # Time is compressed: a short lease and a sweep every second.
    return sandbox.config_toml(
        database_url,
        redis_url,
        acs_port,
        secret,
        lease_seconds=LEASE_SECONDS,
        sweep_seconds=SWEEP_SECONDS,
    )


class Workers:
    """Keeps ``count`` worker processes alive; kills one at random on request."""

    def __init__(self, count: int, config: Path, logs: Path) -> None:
        self.count, self.config, self.logs = count, config, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.born: dict[int, float] = {}
        self.spawned = 0
        self._lock = threading.Lock()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.spawned += 1
        out = open(self.logs / f"worker-{self.spawned}.log", "wb")  # noqa: SIM115
        env = dict(os.environ, LOCKERBRIDGE_CONFIG=str(self.config))
        return subprocess.Popen(
            [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(self.config), "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: the kill reaches rq's scheduler child too
        )

    def keep_alive(self) -> None:
        with self._lock:
            self.procs = [p for p in self.procs if p.poll() is None]
            while len(self.procs) < self.count:
                proc = self._spawn()
                self.born[proc.pid] = time.monotonic()
                self.procs.append(proc)

    def kill_one(self, rng: random.Random, min_age: float) -> bool:
        with self._lock:
            now = time.monotonic()
            alive = [
                p
                for p in self.procs
                if p.poll() is None and now - self.born.get(p.pid, now) >= min_age
            ]
            if not alive:
                return False
            victim = rng.choice(alive)
            _kill_group(victim)
            self.procs.remove(victim)
            return True

    def stop(self) -> None:
        with self._lock:
            for p in self.procs:
                _kill_group(p)
            self.procs = []


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


def run(plan: Plan) -> Report:
    """Runs the whole scenario and returns the counts; cleans up every process it started."""
    rng = random.Random(plan.seed)
    report = Report()
    tmp = Path(tempfile.mkdtemp(prefix="lockerbridge-faults-"))
    redis_server = RedisServer(tmp)
    acs = ReferenceACS(catalogue_from_dict(catalogue(plan.deposits)), behaviour="koha")
    db: Database | None = None
    workers: Workers | None = None
    stop = threading.Event()
    threads: list[threading.Thread] = []
    started = time.monotonic()
    try:
        redis_server.start()
        acs.start()
        db = Database(plan.database, tmp, prefix="faults")
        report.database = db.kind
        cfg = tmp / "lockerbridge.toml"
        cfg.write_text(config_toml(db.url, redis_server.url, acs.address[1], uuid.uuid4().hex * 2))
        settings = load_settings(cfg)
        engine = make_engine(settings.database_url)
        # The controller plays the API process: quick to give up on Redis, as the outbox allows.
        redis = Redis.from_url(
            redis_server.url,
            socket_connect_timeout=0.5,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        rt = assemble(Runtime.over(settings, engine, redis))
        sync_banks(rt)
        bank = SimulatedBank(
            "main-lobby", range(1, 9), timing=SimTiming(open_delay=0, read_delay=0)
        )
        bank.subscribe(lambda event: events.apply(rt, event))
        workers = Workers(plan.workers, cfg, tmp)
        workers.keep_alive()

        def every(period: float, fn: Any) -> None:
            def loop() -> None:
                while not stop.wait(period() if callable(period) else period):
                    try:
                        fn()
                    except Exception as exc:  # Redis or DB blips: the next round retries
                        log.debug("%s failed: %s", getattr(fn, "__name__", fn), exc)

            t = threading.Thread(target=loop, daemon=True)
            t.start()
            threads.append(t)

        # The periodic sweeper (what `lockerbridge scheduler` runs), and a supervisor.
        every(SWEEP_SECONDS, lambda: sweep_outbox(rt))
        every(0.2, workers.keep_alive)

        def killer() -> None:
            if workers is not None and workers.kill_one(rng, plan.kill_min_age):
                report.worker_kills += 1

        every(lambda: rng.uniform(*plan.kill_every), killer)  # type: ignore[arg-type]

        redis_at, acs_at = plan.deposits * 3 // 10, plan.deposits * 6 // 10
        for i in range(plan.deposits):
            if i == redis_at:
                redis_server.kill()
                report.redis_restarts += 1
                threading.Timer(plan.redis_down_seconds, redis_server.start).start()
            if i == acs_at:
                acs.go_down()
                report.acs_outages += 1
                threading.Timer(plan.acs_down_seconds, acs.come_back).start()
            if i % plan.drop_reply_every == plan.drop_reply_every - 1:
                acs.faults.drop_replies = acs.faults.drop_replies + 1
                report.replies_dropped += 1
            sandbox.deposit_through_the_door(rt, bank, 1 + i % 8, barcode(i))
            time.sleep(plan.deposit_gap)
        ids = _deposit_ids(rt, [barcode(i) for i in range(plan.deposits)], report)
        report.deposits = len(ids)
        deadline = time.monotonic() + plan.deadline_seconds
        while time.monotonic() < deadline and _open_count(rt) > 0:
            time.sleep(0.5)
        stop.set()
        workers.stop()
        _count(rt, ids, acs, report)
    finally:
        stop.set()
        if workers is not None:
            workers.stop()
        for t in threads:
            t.join(timeout=5)
        acs.stop()
        redis_server.kill()
        if db is not None:
            with contextlib.suppress(Exception):
                db.drop()
        shutil.rmtree(tmp, ignore_errors=True)
        report.elapsed = time.monotonic() - started
    return report


def _deposit_ids(rt: Runtime, items: list[str], report: Report) -> list[int]:
    """The deposit of each item; an item without one (a door closed on it, nothing recorded)
    is lost."""
    with unit_of_work(rt.sessions) as s:
        found = dict(s.execute(select(DepositRow.item_barcode, DepositRow.id)).all())
    for item in items:
        if item not in found:
            report.lost += 1
            report.problems.append(f"item {item} went into a door and no deposit was recorded")
    return [found[i] for i in items if i in found]


def _open_count(rt: Runtime) -> int:
    with unit_of_work(rt.sessions) as s:
        return len(
            s.scalars(
                select(DepositRow.id).where(DepositRow.state.not_in(("checked_in", "needs_staff")))
            ).all()
        )


def _count(rt: Runtime, ids: list[int], acs: ReferenceACS, report: Report) -> None:
    with unit_of_work(rt.sessions) as s:
        rows = {r.id: r for r in s.scalars(select(DepositRow)).all()}
        events = s.execute(
            select(AuditEventRow.detail, AuditEventRow.at)
            .where(AuditEventRow.kind.like("deposit.%"))
            .order_by(AuditEventRow.id)
        ).all()
    times: dict[int, list[datetime]] = {}
    steps: dict[int, list[str]] = {}
    for detail, at in events:
        if "to" in detail:
            times.setdefault(int(detail["deposit"]), []).append(at)
            steps.setdefault(int(detail["deposit"]), []).append(
                f"{at:%H:%M:%S.%f} {detail['to']} ({detail.get('reason')})"
            )
    ledger_items = {e.item for e in acs.ledger.checkins()}
    for deposit_id in set(ids):
        row = rows.get(deposit_id)
        if row is None or row.state not in ("checked_in", "needs_staff"):
            report.lost += 1
            report.problems.append(f"deposit {deposit_id} ended {row.state if row else 'missing'}")
            continue
        if row.state == "checked_in":
            report.checked_in += 1
            if row.item_barcode not in ledger_items:  # we say so, the ILS never did it
                report.lost += 1
                report.problems.append(f"deposit {deposit_id} checked in but not in the ledger")
        else:
            report.needs_staff += 1
        stamps = sorted(times.get(deposit_id, []))
        gaps = [(b - a) for a, b in itertools.pairwise(stamps)]
        if gaps and max(gaps).total_seconds() > report.max_retry_delay:
            report.max_retry_delay = max(gaps).total_seconds()
            report.slowest = steps.get(deposit_id, [])
        if (
            acs.ledger.loans_closed(row.item_barcode) > 1
            or len(acs.ledger.checkins(row.item_barcode)) > 1
        ):
            report.doubled += 1
            report.problems.append(f"item {row.item_barcode} checked in twice")


__all__ = ["Plan", "Report", "run"]
