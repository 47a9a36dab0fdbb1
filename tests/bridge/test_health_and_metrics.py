"""Operators can ask whether the service is alive and ready, and scrape its metrics."""

from __future__ import annotations

from typing import Any

from redis import Redis
from sqlalchemy import Engine

from bridge.config import Settings
from bridge.infra.metrics import observe_sip2
from bridge.runtime import Runtime
from bridge.storage.db import session_factory, unit_of_work
from bridge.storage.tables.core import BankRow, CompartmentRow, OutboxRow
from bridge.web.app import create_app


def _app(settings: Settings, engine: Engine, redis: Any) -> Any:
    rt = Runtime.over(settings, engine, redis)
    app = create_app(settings, rt)
    app.config["TESTING"] = True
    return app


def test_alive_and_the_database_and_redis_checks_pass_when_they_answer(
    settings: Settings, sqlite_engine: Engine, redis_conn: Redis
) -> None:
    # The ILS and controller checks are tested in tests/topology/test_readiness.py.
    client = _app(settings, sqlite_engine, redis_conn).test_client()
    assert client.get("/healthz").json == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.json["checks"]["database"] == "ok" and ready.json["checks"]["redis"] == "ok"


def test_not_ready_when_redis_is_down(settings: Settings, sqlite_engine: Engine) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    client = _app(settings, sqlite_engine, dead).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["redis"].startswith("down")
    assert client.get("/healthz").status_code == 200


def test_metrics_report_backlog_compartments_and_sip2_latency(
    settings: Settings, sqlite_engine: Engine, redis_conn: Redis
) -> None:
    sessions = session_factory(sqlite_engine)
    with unit_of_work(sessions) as s:
        s.add(BankRow(id="main-lobby", name="Main", branch="MAIN-LOCKER", ils="main-ils"))
        s.flush()
        for n in (1, 2, 3):
            s.add(
                CompartmentRow(
                    bank_id="main-lobby",
                    number=n,
                    size="M",
                    purpose="pickup",
                    height_cm=100,
                    state="free" if n < 3 else "loaded",
                )
            )
        s.add(OutboxRow(kind="deposit_checkin", ref="7", state="pending"))
    observe_sip2("checkin", "main-ils", 0.012)
    body = (
        _app(settings, sqlite_engine, redis_conn)
        .test_client()
        .get("/metrics")
        .get_data(as_text=True)
    )
    assert 'lockerbridge_compartments{bank="main-lobby",state="free"} 2.0' in body
    assert 'lockerbridge_outbox_rows{kind="deposit_checkin",state="pending"} 1.0' in body
    assert 'lockerbridge_sip2_request_seconds_count{ils="main-ils",message="checkin"}' in body
    assert 'lockerbridge_queue_depth{queue="checkins"} 0.0' in body
