"""Service-layer tests: the use cases of ``bridge.services`` called directly (no HTTP route,
CLI or door event in between) on the root fixtures' database and Redis. The returns tests get a
runtime with the in-memory ILS for both banks and the real rq path (``returns_rt``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import Engine, select

from bridge.config import Settings
from bridge.runtime import QUEUE_NAMES, Runtime
from bridge.services.returns.recording import record_deposit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.returns import DepositRow
from ils_adapters.memory import MemoryIls
from tests.support.clock import Clock
from tests.support.runtime import installed

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Returns:
    """The test's handle: runtime, clock, the fake ILS, and helpers to run the real rq path."""

    rt: Runtime
    clock: Clock
    ils: MemoryIls

    def work(self) -> None:
        """Runs every queued job with a real rq worker in this process, until the queues are empty."""
        worker = SimpleWorker([self.rt.queue(n) for n in QUEUE_NAMES], connection=self.rt.redis)
        worker.work(burst=True, logging_level="WARNING")

    def deposit(
        self,
        item: str,
        *,
        ago: timedelta = timedelta(0),
        bank_id: str = "main-lobby",
        **kw: Any,
    ) -> int:
        return record_deposit(
            self.rt,
            bank_id=bank_id,
            compartment=13,
            item_barcode=item,
            deposited_at=self.clock.now - ago,
            **kw,
        )

    def row(self, deposit_id: int) -> DepositRow:
        with unit_of_work(self.rt.sessions) as s:
            row = s.get(DepositRow, deposit_id)
            assert row is not None
            return row

    def audit(self, deposit_id: int) -> list[tuple[str | None, str]]:
        with unit_of_work(self.rt.sessions) as s:
            events = s.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.kind.like("deposit.%"))
                .order_by(AuditEventRow.id)
            ).all()
            return [
                (e.detail.get("from"), e.detail["to"])
                for e in events
                if e.detail.get("deposit") == deposit_id and "to" in e.detail
            ]


def seeded_ils(clock: Clock) -> MemoryIls:
    ils = MemoryIls(clock=clock)
    ils.add_patron("P1", "1234")
    ils.add_patron("P2", "5678")
    for n in range(1, 10):
        ils.add_item(f"B{n}", home="MAIN-LOCKER")
        ils.lend("P1", f"B{n}")
    ils.add_item("AWAY1", home="EAST-LOCKER")
    ils.lend("P1", "AWAY1")
    return ils


@pytest.fixture
def returns_rt(settings: Settings, db_engine: Engine, redis_conn: Redis) -> Iterator[Returns]:
    clock = Clock(T0)
    rt = Runtime.over(settings, db_engine, redis_conn, clock)
    ils = seeded_ils(clock)
    for bank in settings.banks:
        rt.cached(f"ils:{bank.id}", lambda: ils)
    with installed(rt):
        yield Returns(rt=rt, clock=clock, ils=ils)
