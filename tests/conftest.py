"""Fixtures every test package shares: settings, a settable clock, the reference SIP2 server,
an SMTP server, databases (SQLite and PostgreSQL) and Redis. Helpers they are built on live in
``tests/support``; a package's own conftest adds only what is particular to it.

Databases: the schema is migrated once per session (SQLite: into a template file each test
copies; PostgreSQL: into one schema emptied before each test), and only by the first test that
asks for that database. ``db_engine`` is SQLite unless the test is marked
``@both_databases`` (``tests.support.db``), which runs it on PostgreSQL too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bridge.config import Settings, load_settings
from bridge.storage.db import make_engine
from sip2.acs.server import ReferenceACS
from tests.support.acs import CATALOGUE
from tests.support.clock import Clock
from tests.support.config import base_config
from tests.support.db import (
    copied_sqlite,
    empty_pg,
    migrate_sqlite,
    migrated_pg_schema,
    pg_unreachable,
)

# The reference ACS keeps its dates in UTC unless a test gives it a zone, and an [[ils]] without
# `timezone` takes this host's zone: make the host's zone UTC for every test and its
# subprocesses, so the suite means the same on a laptop in Toronto as in CI.
os.environ["TZ"] = "UTC"


@pytest.fixture
def config_dict(tmp_path: Path) -> dict[str, Any]:
    return base_config(tmp_path)


@pytest.fixture
def settings(config_dict: dict[str, Any]) -> Settings:
    return load_settings(None, **config_dict)


@pytest.fixture
def clock() -> Clock:
    """Frozen at the test's start (to the second); the test moves it."""
    return Clock()


@pytest.fixture
def acs() -> Iterator[ReferenceACS]:
    """The reference SIP2 server with the sample catalogue (Koha behaviour, real time), on a
    free loopback port (``tests.support.acs`` lists its patrons and items)."""
    with ReferenceACS(CATALOGUE, behaviour="koha") as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[Any]:
    """A real SMTP server on a free port (``tests.support.servers.Mailbox``) that keeps what it
    receives; ``email_settings(mailbox)`` is the ``[notifications.email]`` sending to it."""
    from tests.support.servers import Mailbox  # aiosmtpd only for the tests that send mail

    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


# --- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return pg_unreachable()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, made once per session."""
    return migrate_sqlite(tmp_path_factory.mktemp("schema") / "migrated.db")


@pytest.fixture(scope="session")
def pg_schema(pg_reason: str | None) -> Iterator[str]:
    """The URL of a PostgreSQL schema migrated once per session (skips, or fails in CI,
    without PostgreSQL)."""
    with migrated_pg_schema(pg_reason) as url:
        yield url


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite database of the test's own."""
    engine = copied_sqlite(sqlite_template, tmp_path / "test.db")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_schema: str) -> Iterator[Engine]:
    """A migrated, empty PostgreSQL schema, for what only a database server has."""
    engine = make_engine(pg_schema)
    empty_pg(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated, empty database: SQLite, or each of SQLite and PostgreSQL for a test marked
    ``@both_databases``."""
    kind = getattr(request, "param", "sqlite")
    engine: Engine = request.getfixturevalue("pg_engine" if kind == "postgresql" else "sqlite_engine")
    return engine


# --- Redis -------------------------------------------------------------------------------


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
