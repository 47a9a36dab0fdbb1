"""The transactional outbox against real databases and a real Redis."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine

from bridge.config import Settings
from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow
from tests.support.clock import Clock
from tests.support.db import both_databases

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KIND = "deposit_checkin"


def _rt(settings: Settings, engine: Engine, redis: Redis, clock: Clock) -> Runtime:
    return Runtime.over(settings, engine, redis, clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, redis_conn: Redis, clock: Clock) -> Runtime:
    return _rt(settings, db_engine, redis_conn, clock)


def _add(rt: Runtime, ref: str, order_key: str | None = None) -> None:
    with unit_of_work(rt.sessions) as s:
        outbox.add(s, KIND, ref, now=rt.clock(), order_key=order_key)


def _queued(rt: Runtime) -> list[str]:
    return [j.decode() for j in rt.redis.lrange("rq:queue:checkins", 0, -1)]


def _row(rt: Runtime, ref: str) -> OutboxRow:
    with unit_of_work(rt.sessions) as s:
        row = s.query(OutboxRow).filter_by(kind=KIND, ref=ref).one()
        return row


@both_databases
def test_of_many_workers_claiming_the_same_row_at_once_exactly_one_wins(rt: Runtime) -> None:
    _add(rt, "1")
    barrier = threading.Barrier(6)
    won: list[outbox.Claim | None] = []
    errors: list[BaseException] = []

    def claimer() -> None:
        barrier.wait()
        try:
            won.append(outbox.claim(rt, KIND, "1"))
        except BaseException as exc:  # a database error here would be a lost claim
            errors.append(exc)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len([c for c in won if c is not None]) == 1
    assert _row(rt, "1").state == "leased"


@both_databases
def test_a_leased_row_can_be_claimed_again_only_after_its_lease_runs_out(
    rt: Runtime, clock: Clock
) -> None:
    _add(rt, "1")
    first = outbox.claim(rt, KIND, "1")
    assert first is not None and first.attempts == 1
    assert outbox.claim(rt, KIND, "1") is None
    clock.now += timedelta(seconds=rt.settings.outbox_lease_seconds + 1)
    second = outbox.claim(rt, KIND, "1")
    assert second is not None and second.attempts == 2


@both_databases
def test_a_completed_row_is_never_claimed_again(rt: Runtime) -> None:
    _add(rt, "1")
    claim = outbox.claim(rt, KIND, "1")
    assert claim is not None
    with unit_of_work(rt.sessions) as s:
        outbox.complete(s, claim, now=rt.clock())
    assert outbox.claim(rt, KIND, "1") is None
    assert outbox.sweep(rt) == 0


@both_databases
def test_rows_with_the_same_key_are_worked_in_creation_order(rt: Runtime) -> None:
    _add(rt, "1", order_key="ITEM-A")
    _add(rt, "2", order_key="ITEM-A")
    _add(rt, "3", order_key="ITEM-B")
    assert outbox.claim(rt, KIND, "2") is None  # the older row for ITEM-A is not done
    assert outbox.claim(rt, KIND, "3") is not None  # another item is not held up
    first = outbox.claim(rt, KIND, "1")
    assert first is not None
    with unit_of_work(rt.sessions) as s:
        outbox.complete(s, first, now=rt.clock())
    assert outbox.claim(rt, KIND, "2") is not None


@both_databases
def test_the_sweeper_re_enqueues_work_whose_worker_died_once_the_lease_runs_out(
    rt: Runtime, clock: Clock
) -> None:
    _add(rt, "7")
    assert outbox.claim(rt, KIND, "7") is not None  # ... and the worker is killed here
    rt.redis.flushall()
    assert outbox.sweep(rt) == 0  # still leased: nobody else may take it yet
    clock.now += timedelta(seconds=rt.settings.outbox_lease_seconds + 1)
    assert outbox.sweep(rt) == 1
    assert _queued(rt) == ["deposit_checkin-7"]
    # Lease plus one sweep interval is within the two minutes promised for a stuck job.
    assert rt.settings.outbox_lease_seconds + rt.settings.sweeper_interval_seconds <= 120


@both_databases
def test_the_sweeper_does_not_pile_duplicates_behind_a_job_still_in_the_queue(
    rt: Runtime,
) -> None:
    _add(rt, "8")
    outbox.dispatch(rt, KIND, "8")
    assert outbox.sweep(rt) == 0
    assert _queued(rt) == ["deposit_checkin-8"]


@both_databases
def test_retry_later_releases_the_lease_and_the_sweeper_picks_it_up_when_due(
    rt: Runtime, clock: Clock
) -> None:
    _add(rt, "9")
    claim = outbox.claim(rt, KIND, "9")
    assert claim is not None
    delay = outbox.retry_later(rt, claim, "ILS down")
    assert delay == timedelta(seconds=2)
    rt.redis.flushall()
    assert outbox.sweep(rt) == 0  # not due yet
    clock.now += delay
    assert outbox.sweep(rt) == 1
    assert _row(rt, "9").last_error == "ILS down"


def _dead_redis() -> Redis:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # No client-side retries: the test is about our handling, not redis-py's backoff.
    return Redis(
        host="127.0.0.1",
        port=port,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )


@both_databases
def test_dispatch_with_redis_down_loses_nothing_the_sweeper_sends_it_later(
    settings: Settings, db_engine: Engine, redis_conn: Redis, clock: Clock
) -> None:
    down = _rt(settings, db_engine, _dead_redis(), clock)
    _add(down, "11")
    outbox.dispatch(down, KIND, "11")  # must not raise: the row is safe in the database
    assert outbox.sweep(down) == 1  # tried, and failed quietly again
    up = _rt(settings, db_engine, redis_conn, clock)
    assert outbox.sweep(up) == 1
    assert _queued(up) == ["deposit_checkin-11"]
    assert outbox.claim(up, KIND, "11") is not None


@both_databases
def test_an_unknown_kind_is_refused_when_written(rt: Runtime) -> None:
    with pytest.raises(ValueError), unit_of_work(rt.sessions) as s:
        outbox.add(s, "no_such_kind", "1", now=rt.clock())
