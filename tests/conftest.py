"""Fixtures shared by every test package: settings, databases (SQLite and PostgreSQL), Redis."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from bridge.config import Settings, load_settings
from bridge.storage.db import make_engine
from bridge.storage.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PG_ADMIN_URL = os.environ.get(
    "LOCKERBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_SERVER_URL = os.environ.get("LOCKERBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379")

# The example configuration's placeholder secrets (refused outside the demo) and real-looking
# values that tests put in their place.
EXAMPLE_SECRETS = {
    "change-me-to-a-long-random-string-of-48-chars-0000": "q3VtW8xq0m2Lr5Yb9nH1sPdKf7Tg4JcZeA6uRwXo",
    "change-me-code-key-0123456789abcdef": "Jd93kfQm2Lx8Vt0bRn6Yh1WcPz4Gs7Ua",
}

# The reference ACS keeps its dates in UTC unless a test gives it a zone, and an [[ils]] without
# `timezone` takes this host's zone: make the host's zone UTC for every test and its
# subprocesses, so the suite means the same on a laptop in Toronto as in CI.
os.environ["TZ"] = "UTC"


def base_config(tmp_path: Path, **over: Any) -> dict[str, Any]:
    """A small valid configuration: one ILS, two banks, as a dict to adjust per test."""
    cfg: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/lb.db",
        "redis_url": "embedded",
        "web": {"secret_key": "k" * 40, "secure_cookies": False, "port": 0},
        "security": {"code_keys": ["test-code-key-0123456789abcdef"]},
        "ils": [{"name": "main-ils", "profile": "koha", "port": 6001, "checksums": True}],
        "banks": [
            {
                "id": "main-lobby",
                "name": "Main Library lobby",
                "branch": "MAIN-LOCKER",
                "ils": "main-ils",
                "sip_login": {"user": "lockers-main", "password": "demo-main"},
                "compartment_ranges": [
                    {"first": 1, "last": 6, "size": "S"},
                    {"first": 7, "last": 10, "size": "M"},
                    {"first": 11, "last": 12, "size": "L", "height_cm": 40},
                    {"first": 13, "last": 14, "size": "M", "purpose": "return"},
                    {"first": 15, "last": 16, "size": "M", "purpose": "equipment", "charger": True},
                ],
            },
            {
                "id": "east-station",
                "name": "East station",
                "branch": "EAST-LOCKER",
                "ils": "main-ils",
                "sip_login": {"user": "lockers-east", "password": "demo-east"},
                "compartment_ranges": [
                    {"first": 1, "last": 4, "size": "M"},
                    {"first": 5, "last": 6, "size": "M", "purpose": "return"},
                ],
            },
        ],
        "routing": [
            {"location": "MAIN-LOCKER", "bank": "main-lobby"},
            {"location": "EAST-LOCKER", "bank": "east-station"},
        ],
    }
    for key, value in over.items():
        cfg[key] = value
    return cfg


@pytest.fixture
def config_dict(tmp_path: Path) -> dict[str, Any]:
    return base_config(tmp_path)


@pytest.fixture
def settings(config_dict: dict[str, Any]) -> Settings:
    return load_settings(None, **config_dict)


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


@contextlib.contextmanager
def migrated_pg_schema(reason: str | None) -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL schema of its own, dropped afterwards (skips,
    or fails in CI, without PostgreSQL)."""
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required in CI: {reason}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {reason}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_engine(
    request: pytest.FixtureRequest, tmp_path: Path, pg_reason: str | None
) -> Iterator[Engine]:
    """A migrated, empty database: once on SQLite, once on PostgreSQL (own schema per test)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/test.db")
        upgrade(engine)
        yield engine
        engine.dispose()
    else:
        with migrated_pg_schema(pg_reason) as engine:
            yield engine


@pytest.fixture
def pg_engine(pg_reason: str | None) -> Iterator[Engine]:
    """A migrated, empty PostgreSQL schema, for what only a database server has."""
    with migrated_pg_schema(pg_reason) as engine:
        yield engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/test.db")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def embedded_redis() -> Iterator[Any]:
    """One private redis-server (bridge.infra.redis_conn.EmbeddedRedis) for the test session."""
    from bridge.infra.redis_conn import EmbeddedRedis

    server = EmbeddedRedis()
    yield server
    server.close()


@pytest.fixture
def redis_conn(embedded_redis: Any) -> Iterator[Any]:
    """A clean Redis for one test (the embedded server, flushed)."""
    from redis import Redis

    conn = Redis.from_url(embedded_redis.url)
    conn.flushall()
    yield conn
    conn.flushall()
    conn.close()
