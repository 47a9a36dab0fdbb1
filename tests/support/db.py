"""Migrated, empty databases made cheaply: the schema is migrated once per test session and
each test gets a copy (SQLite) or the same schema emptied (PostgreSQL).

A migration costs about a second; a file copy a few milliseconds and a TRUNCATE of every table
a fifth of a second. The fixtures built on these live in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from bridge.storage.db import make_engine
from bridge.storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "LOCKERBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# For the tests whose storage behaviour matters (row locks, time comparisons, SQL that differs
# between the two): ``db_engine`` is SQLite unless a test is marked with this.
both_databases = pytest.mark.parametrize(
    "db_engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
pg_only = pytest.mark.parametrize(
    "db_engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def pg_unreachable() -> str | None:
    """Why PostgreSQL at ``PG_ADMIN_URL`` cannot be used, or None."""
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


def need_pg(reason: str | None) -> None:
    """Skips the test without PostgreSQL (fails it in CI, where PostgreSQL is required)."""
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required in CI: {reason}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {reason}")


@contextlib.contextmanager
def migrated_pg_schema(reason: str | None) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL schema of its own, dropped afterwards."""
    need_pg(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def empty_pg(engine: Engine) -> None:
    """Every table of the engine's schema emptied, its sequences restarted: as just migrated."""
    with engine.begin() as conn:
        names = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'alembic_version'"
            )
        ).all()
        quoted = ", ".join(f'"{n}"' for n in names)
        conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


def migrate_sqlite(path: Path) -> Path:
    """Migrates a new SQLite file at ``path`` (the template the tests copy)."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


def _no_fsync(dbapi_conn: Any, _record: Any) -> None:
    # Durability across power loss is not under test; fsync per commit only costs time.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def copied_sqlite(template: Path, target: Path) -> Engine:
    """An engine on a fresh migrated database: a copy of the template at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    engine = make_engine(f"sqlite:///{target}")
    event.listen(engine, "connect", _no_fsync)
    return engine


def copy_to_url(template: Path, database_url: str) -> None:
    """Puts a copy of the template where ``database_url`` (an SQLite file) points, for code
    that opens its own engine from the settings."""
    assert database_url.startswith("sqlite:///"), database_url
    target = Path(database_url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
