"""Staff status page: server time to render the full page (every bank's grid, health, work list).

Seeds a SQLite database with banks of 200 compartments until the total is reached (about
two in three doors holding a waiting item, some expired, some with faults), signs a staff user
in through the real form, and times ``GET /staff/`` with Flask's test client. The baseline is
``GET /healthz`` on the same app and client (the framework's own cost), measured in the same run.

Targets (DOMAIN.md section 7): p95 <= 100 ms at 200 compartments, <= 250 ms at 1,000.
"""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.figures import Figure, percentile, timed

SIZES = (200, 1_000, 10_000)
TARGET_MS = {200: 100.0, 1_000: 250.0}
PER_BANK = 200
PASSWORD = "benchmark password 1"
REPRODUCE = "python -m bench --only status_page"


def _config(tmp: Path, total: int) -> dict[str, Any]:
    banks = []
    for b in range(max(1, total // PER_BANK)):
        banks.append(
            {
                "id": f"bank-{b:03d}",
                "name": f"Bank {b:03d}",
                "branch": f"B{b:03d}",
                "ils": "ils",
                "sip_login": {"user": "u", "password": "p"},
                "compartment_ranges": [
                    {"first": 1, "last": PER_BANK - 10, "size": "M"},
                    {"first": PER_BANK - 9, "last": PER_BANK, "size": "L", "purpose": "return"},
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
    from sqlalchemy import select

    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.core import CompartmentRow
    from bridge.storage.tables.lockers import LoadRow
    from bridge.wiring import sync_banks

    sync_banks(rt)
    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as s:
        for i, row in enumerate(
            s.scalars(select(CompartmentRow).where(CompartmentRow.purpose == "pickup"))
        ):
            kind = i % 12
            if kind < 8:
                row.state = "loaded" if kind else "expired"
                row.state_since = now - timedelta(hours=i % 90)
                s.add(
                    LoadRow(
                        bank_id=row.bank_id,
                        compartment=row.number,
                        item_barcode=f"3{i:09d}",
                        size="M",
                        state="loaded",
                        patron=f"2{i:09d}",
                        patron_ref=f"ref{i}",
                        loaded_at=row.state_since,
                        expires_at=now + timedelta(days=3),
                    )
                )
            elif kind == 9:
                row.fault = "jammed"
                row.state = "out_of_service"


def _measure(total: int, repeat: int) -> tuple[list[float], list[float]]:
    from bridge.app import create_app
    from bridge.config import load_settings
    from bridge.redis_conn import EmbeddedRedis
    from bridge.runtime import Runtime
    from bridge.staff_users import Role, add_user
    from bridge.storage.db import make_engine, session_factory, unit_of_work
    from bridge.storage.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="lb-bench-status-") as tmp:
        settings = load_settings(None, **_config(Path(tmp), total))
        redis_server = EmbeddedRedis(Path(tmp) / "redis")
        engine = make_engine(settings.database_url)
        try:
            from redis import Redis

            upgrade(engine)
            rt = Runtime(
                settings=settings,
                engine=engine,
                sessions=session_factory(engine),
                redis=Redis.from_url(redis_server.url),
            )
            _seed(rt)
            with unit_of_work(rt.sessions) as s:
                add_user(s, "bench", PASSWORD, Role.STAFF)
            app = create_app(settings, rt)
            client = app.test_client()
            page = client.get("/staff/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            client.post(
                "/staff/login",
                data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)},
            )

            def status() -> None:
                resp = client.get("/staff/")
                assert resp.status_code == 200, resp.status_code

            def healthz() -> None:
                client.get("/healthz")

            status()  # warm caches and templates
            baseline = timed(healthz, repeat)
            samples = timed(status, repeat)
            return samples, baseline
        finally:
            engine.dispose()
            redis_server.close()


def run(quick: bool) -> list[Figure]:
    sizes = (200, 1_000) if quick else SIZES
    repeat = 5 if quick else 40
    p95: dict[int, float] = {}
    base95: dict[int, float] = {}
    figures: list[Figure] = []
    for n in sizes:
        samples, baseline = _measure(n, repeat if n < 10_000 else max(5, repeat // 4))
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
