"""The transactional outbox: work that must happen after a change commits, never lost.

A use case writes its change and an outbox row in one transaction (:func:`add`), then, after
the commit, hands the row to rq (:func:`dispatch`). The job claims the row with a lease
(:func:`claim`), does the work, and marks it :func:`complete` or :func:`retry_later`. If the
worker dies, or Redis loses the job, the sweeper (:func:`sweep`, run every
``sweeper_interval_seconds``) enqueues the row again once its lease has run out, so work is
retried within lease + sweep interval (well under 120 s by default) instead of rq's ~11 minutes.

Rows with the same ``order_key`` (an item barcode) are worked strictly in creation order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    function: str  # dotted path of the rq job; it takes (kind, ref)
    queue: str


# Areas register their kinds here: kind -> job. Keep kinds short and stable (they are stored).
KINDS: dict[str, JobKind] = {
    "deposit_checkin": JobKind("bridge.jobs.returns.checkin_deposit", "checkins"),
    "notification": JobKind("bridge.jobs.notify.send_notification", "notifications"),
    "ill_checkin": JobKind("bridge.jobs.ill.notify_ill_checkin", "default"),
}

MAX_BACKOFF = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds, at most ten minutes."""
    return min(timedelta(seconds=2 ** max(1, attempts)), MAX_BACKOFF)


def job_id(kind: str, ref: str) -> str:
    return f"{kind}-{ref}"


def add(
    session: Session, kind: str, ref: str, *, now: datetime, order_key: str | None = None
) -> OutboxRow:
    """Records work to do; call inside the use case's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    row = OutboxRow(
        kind=kind,
        ref=ref,
        order_key=order_key,
        state="pending",
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    return row


def dispatch(rt: Runtime, kind: str, ref: str, *, delay: timedelta | None = None) -> None:
    """Hands committed work to rq. Failing here loses nothing: the sweeper will pick it up."""
    spec = KINDS[kind]
    try:
        queue = rt.queue(spec.queue)
        if delay and delay.total_seconds() > 0:
            queue.enqueue_in(
                delay,
                spec.function,
                kind,
                ref,
                job_id=job_id(kind, ref),
                job_timeout=300,
                result_ttl=300,
                failure_ttl=86400,
            )
        else:
            queue.enqueue(
                spec.function,
                kind,
                ref,
                job_id=job_id(kind, ref),
                job_timeout=300,
                result_ttl=300,
                failure_ttl=86400,
            )
    except Exception as exc:  # Redis down: the row stays pending and the sweeper retries.
        log.warning("could not enqueue %s %s now (%s); the sweeper will retry", kind, ref, exc)


@dataclass(frozen=True)
class Claim:
    id: int
    kind: str
    ref: str
    attempts: int


def claim(rt: Runtime, kind: str, ref: str) -> Claim | None:
    """Leases the row for this worker; None when it is done, leased by another, or must wait.

    A row waits while an older row with the same order_key is not finished.
    """
    now = rt.clock()
    lease = now + timedelta(seconds=rt.settings.outbox_lease_seconds)
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(
            select(OutboxRow).where(OutboxRow.kind == kind, OutboxRow.ref == ref)
        ).one_or_none()
        if row is None or row.state in ("done", "failed"):
            return None
        if row.order_key:
            earlier = s.scalars(
                select(OutboxRow.id)
                .where(
                    OutboxRow.order_key == row.order_key,
                    OutboxRow.kind == kind,
                    OutboxRow.id < row.id,
                    OutboxRow.state.in_(("pending", "leased")),
                )
                .limit(1)
            ).first()
            if earlier is not None:
                row.next_attempt_at = now + timedelta(seconds=2)
                return None
        # Compare-and-set, so two workers given the same job cannot both take it.
        took = s.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == row.id,
                or_(
                    OutboxRow.state == "pending",
                    and_(OutboxRow.state == "leased", OutboxRow.lease_until < now),
                ),
            )
            .values(state="leased", lease_until=lease, attempts=OutboxRow.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(took, "rowcount", 0) != 1:
            return None
        return Claim(id=row.id, kind=kind, ref=ref, attempts=row.attempts + 1)


def complete(session: Session, claim_: Claim, *, now: datetime) -> None:
    """Marks the work done; call in the same transaction as the work's own result."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == claim_.id)
        .values(state="done", done_at=now, lease_until=None, last_error=None)
    )


def give_up(session: Session, claim_: Claim, *, now: datetime, error: str) -> None:
    """No retry will help (the outcome is with staff now)."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == claim_.id)
        .values(state="failed", done_at=now, lease_until=None, last_error=error[:500])
    )


def retry_later(
    rt: Runtime, claim_: Claim, error: str, *, delay: timedelta | None = None
) -> timedelta:
    """Releases the lease with a backoff; returns the delay chosen."""
    delay = delay if delay is not None else backoff(claim_.attempts)
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        s.execute(
            update(OutboxRow)
            .where(OutboxRow.id == claim_.id)
            .values(
                state="pending",
                lease_until=None,
                next_attempt_at=now + delay,
                last_error=error[:500],
            )
        )
    dispatch(rt, claim_.kind, claim_.ref, delay=delay)
    return delay


def sweep(rt: Runtime, *, limit: int = 500) -> int:
    """Enqueues due pending rows and rows whose lease ran out; returns how many.

    A due row whose job was put in its rq queue less than a lease ago is left alone: enqueueing
    it again would only add a duplicate behind it, and under a backlog duplicates pile up every
    sweep. After a lease it is enqueued again anyway: a worker killed right after taking a job
    from the queue leaves it marked "queued" forever.
    """
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        rows = s.execute(
            select(OutboxRow.kind, OutboxRow.ref, OutboxRow.state)
            .where(
                or_(
                    and_(OutboxRow.state == "pending", OutboxRow.next_attempt_at <= now),
                    and_(OutboxRow.state == "leased", OutboxRow.lease_until < now),
                )
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        ).all()
    lease = timedelta(seconds=rt.settings.outbox_lease_seconds)
    sent = 0
    for kind, ref, state in rows:
        if kind not in KINDS:
            continue
        if state == "pending" and _queued_within(rt, kind, ref, lease):
            continue
        dispatch(rt, kind, ref)
        sent += 1
    return sent


def _queued_within(rt: Runtime, kind: str, ref: str, window: timedelta) -> bool:
    """True when the job sits in its queue, put there less than ``window`` ago (rq's clock)."""
    try:
        status, enqueued = rt.redis.hmget(Job.key_for(job_id(kind, ref)), "status", "enqueued_at")
    except Exception:  # Redis down: dispatch will say so and the next sweep retries
        return False
    if status not in (b"queued", "queued") or not enqueued:
        return False
    try:
        at = utcparse(enqueued.decode() if isinstance(enqueued, bytes) else str(enqueued))
    except ValueError:
        return False
    return datetime.now(UTC) - at < window


def backlog(session: Session, kind: str) -> tuple[int, datetime | None]:
    """How many rows of a kind are not done, and when the oldest was created."""
    rows = session.execute(
        select(OutboxRow.created_at)
        .where(OutboxRow.kind == kind, OutboxRow.state.in_(("pending", "leased")))
        .order_by(OutboxRow.created_at)
    ).all()
    return len(rows), (rows[0][0] if rows else None)
