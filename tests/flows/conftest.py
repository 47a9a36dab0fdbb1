"""Fixtures for the pickup flows: a runtime over the root fixtures' database (SQLite, or both
databases for a test marked ``@both_databases``), the in-memory ILS in the ``ils:<bank>`` seam,
and the simulated bank driver built by ``bridge.services.wiring``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.wiring import driver_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.notifications import NotificationRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.simulated import SimulatedBank
from tests.support.clock import Clock
from tests.support.runtime import flow_config, make_runtime

BANKS = ("main-lobby", "east-station")


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
