"""Returns: deposit → checked in, against the reference ACS run as its own process.

Figures:
- deposit → checked-in latency (record + the check-in job, in process) p50/p95, and our share
  of it (total minus the time spent inside the ILS adapter), target p95 <= 100 ms;
- full mode: the same end to end through Redis and a ``lockerbridge worker`` process;
- check-ins per second per worker with 1, 2 and 4 worker processes (target >= 20/s), and the
  ratio to a plain SIP2 checkin loop on the same ACS in the same run (machine-independent);
- drain time of a backlog of 1,000 deposits (quick: 50, in process), target <= 300 s.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Worker
from rq.suspension import resume, suspend
from sqlalchemy import func, select

from bench.acs import reference_acs
from bench.figures import Figure, median, percentile
from bridge.config import load_settings
from bridge.infra.redis_conn import EmbeddedRedis
from bridge.runtime import Runtime
from bridge.services.returns import checkin, recording
from bridge.services.wiring import adapter_for
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.tables.returns import DepositRow
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from tests.sandbox import BRANCH, Database, config_toml

PATRON = "23000000009999"
REPRODUCE = "python -m bench --only returns"


def _catalogue(n: int) -> dict[str, Any]:
    due = (datetime.now(UTC) + timedelta(days=21)).isoformat()
    return {
        "institution": "DEMO",
        "branches": [{"code": BRANCH, "name": "Main lockers", "locker_bank": True}],
        "accounts": [
            {
                "user": "lockers-main",
                "password": "demo-main",
                "institution": "DEMO",
                "location": BRANCH,
            }
        ],
        "patrons": [{"barcode": PATRON, "pin": "1234", "first_name": "B", "last_name": "P"}],
        "items": [
            {
                "barcode": f"38{i:012d}",
                "title": f"Book {i}",
                "home": BRANCH,
                "media": "book",
                "status": "charged",
                "charged_to": PATRON,
                "due": due,
            }
            for i in range(n)
        ],
    }


@dataclass
class _Env:
    rt: Runtime
    cfg: Path
    port: int
    database: str
    next_item: int = 0

    def items(self, n: int) -> list[str]:
        start, self.next_item = self.next_item, self.next_item + n
        return [f"38{i:012d}" for i in range(start, start + n)]

    def deposit(self, item: str) -> int:
        return recording.record_deposit(
            self.rt,
            bank_id="main-lobby",
            compartment=1,
            item_barcode=item,
            deposited_at=datetime.now(UTC),
        )


@contextmanager
def _env(items: int) -> Iterator[_Env]:
    tmp = Path(tempfile.mkdtemp(prefix="lockerbridge-bench-returns-"))
    (tmp / "catalogue.json").write_text(json.dumps(_catalogue(items)))
    redis_server = EmbeddedRedis(tmp / "redis")
    db = Database("auto", tmp, prefix="bench_returns")
    try:
        with reference_acs(tmp / "catalogue.json") as (_host, port):
            cfg = tmp / "lockerbridge.toml"
            cfg.write_text(config_toml(db.url, redis_server.url, port, uuid.uuid4().hex * 2))
            settings = load_settings(cfg)
            engine = make_engine(settings.database_url)
            rt = Runtime.over(settings, engine, Redis.from_url(redis_server.url))
            try:
                yield _Env(rt, cfg, port, db.kind)
            finally:
                rt.close()
    finally:
        redis_server.close()
        with contextlib.suppress(Exception):
            db.drop()


class TimedAdapter:
    """Wraps the bank's adapter and adds up the time spent inside the ILS."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.spent = inner, 0.0
        self.profile = inner.profile

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.inner, name)

        def timed(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.spent += time.perf_counter() - start

        return timed


def _in_process(env: _Env, items: list[str]) -> tuple[list[float], list[float]]:
    """Total and own (non-ILS) seconds per deposit: record it, then run the job body."""
    timed = TimedAdapter(adapter_for(env.rt, "main-lobby"))
    totals, own = [], []
    for item in items:
        env.rt.redis.flushdb()  # the job is run here, not by a worker
        before = timed.spent
        start = time.perf_counter()
        deposit_id = env.deposit(item)
        # What the rq job runs: claim + start in one commit, the ILS, the finish in one commit.
        checkin.check_in_deposit(env.rt, deposit_id, adapter=lambda _rt, _b: timed)
        total = time.perf_counter() - start
        totals.append(total)
        own.append(total - (timed.spent - before))
    return totals, own


def _raw_rate(env: _Env, items: list[str]) -> float:
    """Plain SIP2 checkins per second, one connection, no middleware."""
    server = ServerConfig("127.0.0.1", env.port, error_detection=True)
    account = SipAccount("lockers-main", "demo-main", location=BRANCH, institution="DEMO")
    with SipClient.for_server(server, account) as client:
        client.sc_status()
        start = time.perf_counter()
        for item in items:
            client.checkin(item, location=BRANCH, returned_at=datetime.now(UTC))
        return len(items) / (time.perf_counter() - start)


def _open(env: _Env) -> int:
    with unit_of_work(env.rt.sessions) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(DepositRow)
                .where(DepositRow.state.not_in(("checked_in", "needs_staff")))
            )
            or 0
        )


@contextmanager
def _workers(env: _Env, count: int) -> Iterator[None]:
    suspend(env.rt.redis)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(env.cfg), "worker"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        while Worker.count(connection=env.rt.redis) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        yield
    finally:
        resume(env.rt.redis)
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
        for w in Worker.all(connection=env.rt.redis):
            with contextlib.suppress(Exception):
                w.register_death()  # type: ignore[no-untyped-call]


def _drain(env: _Env, count: int, items: list[str]) -> float:
    """Seconds for ``count`` worker processes to check in a backlog of ``items``."""
    with _workers(env, count):
        for item in items:
            env.deposit(item)
        start = time.perf_counter()
        resume(env.rt.redis)
        while _open(env) > 0:
            time.sleep(0.05)
        return time.perf_counter() - start


def _end_to_end(env: _Env, items: list[str]) -> list[float]:
    out = []
    with _workers(env, 1):
        resume(env.rt.redis)
        time.sleep(0.5)
        for item in items:
            start = time.perf_counter()
            d = env.deposit(item)
            while True:
                with unit_of_work(env.rt.sessions) as s:
                    if s.get(DepositRow, d).state == "checked_in":  # type: ignore[union-attr]
                        break
                time.sleep(0.002)
            out.append(time.perf_counter() - start)
    return out


def run(quick: bool) -> list[Figure]:
    n_lat, n_raw, n_backlog = (20, 50, 50) if quick else (200, 300, 1000)
    rates = () if quick else ((1, 200), (2, 300), (4, 400))
    n_e2e = 0 if quick else 100
    total_items = n_lat + n_raw + n_backlog + n_e2e + sum(n for _, n in rates)
    figures: list[Figure] = []
    with _env(total_items) as env:
        raw = _raw_rate(env, env.items(n_raw))
        totals, own = _in_process(env, env.items(n_lat))
        figures += [
            Figure(
                "returns: deposit to checked-in p50 (in process)",
                median(totals) * 1000,
                "ms",
                reproduce=REPRODUCE,
                samples=[t * 1000 for t in totals],
                plot="distribution",
            ),
            Figure(
                "returns: deposit to checked-in p95 (in process)",
                percentile(totals, 95) * 1000,
                "ms",
                reproduce=REPRODUCE,
            ),
            Figure(
                "returns: middleware share p95",
                percentile(own, 95) * 1000,
                "ms",
                target="<= 100 ms",
                passed=percentile(own, 95) <= 0.1,
                baseline="total minus time inside the ILS adapter, same deposits",
                reproduce=REPRODUCE,
            ),
        ]
        if n_e2e:
            e2e = _end_to_end(env, env.items(n_e2e))
            figures += [
                Figure(
                    "returns: deposit to checked-in p50 (Redis + worker)",
                    median(e2e),
                    "s",
                    target="<= 2 s",
                    passed=median(e2e) <= 2,
                    reproduce=REPRODUCE,
                ),
                Figure(
                    "returns: deposit to checked-in p95 (Redis + worker)",
                    percentile(e2e, 95),
                    "s",
                    target="<= 5 s",
                    passed=percentile(e2e, 95) <= 5,
                    reproduce=REPRODUCE,
                ),
            ]
        for count, n in rates:
            rate = n / _drain(env, count, env.items(n)) / count
            figures += [
                Figure(
                    f"returns: check-ins/s per worker, {count} worker(s)",
                    rate,
                    "/s",
                    target=">= 20/s",
                    passed=rate >= 20,
                    reproduce=REPRODUCE,
                ),
                Figure(
                    f"returns: per-worker rate / raw SIP2 loop, {count} worker(s)",
                    rate / raw,
                    "ratio",
                    baseline=f"plain SIP2 checkin loop: {raw:.0f}/s",
                    reproduce=REPRODUCE,
                ),
            ]
        backlog = env.items(n_backlog)
        if quick:
            start = time.perf_counter()
            _in_process(env, backlog)
            drain = time.perf_counter() - start
            label = f"returns: drain {n_backlog} deposits (in process)"
        else:
            drain = _drain(env, 2, backlog)
            label = f"returns: drain {n_backlog} deposits, 2 workers"
        figures.append(
            Figure(
                label,
                drain,
                "s",
                target="<= 300 s" if not quick else None,
                passed=(drain <= 300) if not quick else None,
                baseline=f"database: {env.database}",
                reproduce=REPRODUCE,
            )
        )
    return figures
