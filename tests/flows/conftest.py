"""Fixtures for the pickup flows: a runtime on a migrated database, the in-memory ILS in the
``ils:<bank>`` seam, and the simulated bank driver built by ``bridge.services.wiring``.

Speed: the schema is migrated once per session into a template SQLite file that each test
copies (a copy takes milliseconds, a migration a few hundred). Most flows run on SQLite only;
the ones where storage behaviour matters (row locks, time comparisons, the whole cycle of one
door) are marked ``@both_databases`` and run on PostgreSQL too, in one migrated schema per
module whose tables are emptied before each test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from bridge.services.wiring import driver_for
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.notifications import NotificationRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.simulated import SimulatedBank
from tests.conftest import base_config, migrated_pg_schema

BANKS = ("main-lobby", "east-station")

# Flows whose storage behaviour matters run on PostgreSQL as well as SQLite.
both_databases = pytest.mark.parametrize(
    "db_engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _no_fsync(dbapi_conn: Any, _record: Any) -> None:
    # Durability across power loss is not under test; fsync per commit only costs time.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, made once per session."""
    path = tmp_path_factory.mktemp("schema") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


def copied_sqlite(template: Path, target: Path) -> Engine:
    """A fresh migrated database: a copy of the template."""
    shutil.copyfile(template, target)
    engine = make_engine(f"sqlite:///{target}")
    event.listen(engine, "connect", _no_fsync)
    return engine


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    engine = copied_sqlite(sqlite_template, tmp_path / "test.db")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_module_engine(pg_reason: str | None) -> Iterator[Engine]:
    """One migrated PostgreSQL schema for the module (skips, or fails in CI, without PG)."""
    with migrated_pg_schema(pg_reason) as engine:
        yield engine


def _empty_pg(engine: Engine) -> None:
    with engine.begin() as conn:
        names = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'alembic_version'"
            )
        ).all()
        quoted = ", ".join(f'"{n}"' for n in names)
        conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db_engine(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Engine]:
    """SQLite unless the test is parametrized with ``@both_databases``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        engine = copied_sqlite(sqlite_template, tmp_path / "test.db")
        yield engine
        engine.dispose()
        return
    pg: Engine = request.getfixturevalue("pg_module_engine")
    _empty_pg(pg)
    yield pg


class Clock:
    """A settable clock: tests move time explicitly."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def flow_config(tmp_path: Path, **over: Any) -> dict[str, Any]:
    cfg = base_config(tmp_path, **over)
    for bank in cfg["banks"]:
        bank.setdefault("driver", {"kind": "simulated", "door_delay_seconds": 0.0})
    return cfg


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flow_settings(tmp_path: Path) -> Settings:
    return load_settings(None, **flow_config(tmp_path))


@pytest.fixture
def ils(clock: Clock) -> MemoryIls:
    fake = MemoryIls(clock=clock)
    fake.add_patron("P1", "1234", email="p1@example.org")
    fake.add_patron("P2", "4321", email="p2@example.org")
    fake.add_patron("PBLOCK", "1111", block_reasons=("card reported lost",))
    for n in range(1, 9):
        fake.add_item(f"B{n}", home="MAIN", title=f"Book {n}")
    fake.add_item("CAM1", home="MAIN", title="Camera", fee=None)
    return fake


def make_runtime(
    settings: Settings, engine: Engine, redis: Any, clock: Clock, ils: Any | None
) -> Runtime:
    rt = Runtime.over(settings, engine, redis, clock)
    if ils is not None:
        for bank in settings.banks:
            rt.cached(f"ils:{bank.id}", lambda: ils)
    sync_banks(rt)
    return assemble(rt)  # as every process's start-up does


@pytest.fixture
def rt(
    flow_settings: Settings, db_engine: Engine, redis_conn: Any, clock: Clock, ils: MemoryIls
) -> Iterator[Runtime]:
    runtime = make_runtime(flow_settings, db_engine, redis_conn, clock, ils)
    yield runtime
    for key in list(runtime._cache):
        if key.startswith("driver:"):
            runtime._cache[key].close()


def sim(rt: Runtime, bank_id: str = "main-lobby") -> SimulatedBank:
    driver = driver_for(rt, bank_id)
    assert isinstance(driver, SimulatedBank)
    return driver


def load_door(rt: Runtime, number: int, bank_id: str = "main-lobby", items: int = 1) -> None:
    """Staff put the item(s) in the open door and shut it."""
    door = sim(rt, bank_id)
    for _ in range(items):
        door.put_item(number)
    assert door.close_door(number)


def state_of(rt: Runtime, number: int, bank_id: str = "main-lobby") -> str:
    with unit_of_work(rt.sessions) as s:
        return s.scalars(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == bank_id, CompartmentRow.number == number
            )
        ).one()


def messages(rt: Runtime, kind: str = "ready_for_pickup") -> list[NotificationRow]:
    with unit_of_work(rt.sessions) as s:
        return list(
            s.scalars(
                select(NotificationRow)
                .where(NotificationRow.kind == kind)
                .order_by(NotificationRow.id)
            )
        )


def audit_kinds(rt: Runtime) -> list[str]:
    with unit_of_work(rt.sessions) as s:
        return list(s.scalars(select(AuditEventRow.kind).order_by(AuditEventRow.id)))
