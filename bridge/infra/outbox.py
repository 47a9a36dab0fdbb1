"""The transactional outbox: work that must happen after a change commits, never lost.

A use case writes its change and an outbox row in one transaction (:func:`add`), then, after
the commit, hands the row to rq (:func:`dispatch`). The job claims the row with a lease
(:func:`claim`), does the work, and marks it :func:`complete` or :func:`retry_later`. If the
worker dies, or Redis loses the job, the sweeper (:func:`sweep`, run every
``sweeper_interval_seconds``) enqueues the row again once its lease has run out, so work is
retried within lease + sweep interval (well under 120 s by default) instead of rq's ~11 minutes.

Rows with the same ``order_key`` (an item barcode) are worked strictly in creation order,
whatever their kind: an item's offline loan reaches the ILS before its later return.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

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
    "offline_checkout": JobKind("bridge.jobs.offline.send_offline_loan", "checkins"),
}

MAX_BACKOFF = timedelta(minutes=10)
# A row behind an older open row of its order_key is looked at again this much later.
ORDER_WAIT = timedelta(seconds=2)
_OPEN = ("pending", "leased")


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds, at most ten minutes."""
    return min(timedelta(seconds=2 ** max(1, attempts)), MAX_BACKOFF)


def job_id(kind: str, ref: str) -> str:
    return f"{kind}-{ref}"


def retry_job_id(kind: str, ref: str, attempt: int) -> str:
    """The rq job id of a delayed retry, one per attempt.

    A retry is dispatched from inside the running job. Under the running job's own id, rq's
    bookkeeping when that job ends (status "finished", result expiry) would land on the retry
    just scheduled and lose it; a fresh id per attempt keeps them apart.
    """
    return f"{kind}-{ref}-retry{attempt}"


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


def dispatch(
    rt: Runtime, kind: str, ref: str, *, delay: timedelta | None = None, attempt: int = 0
) -> None:
    """Hands committed work to rq. Failing here loses nothing: the sweeper will pick it up.

    ``attempt`` (the claim's) names a delayed retry's job, see :func:`retry_job_id`.
    """
    spec = KINDS[kind]
    later = delay is not None and delay.total_seconds() > 0
    # The outcome lives in the database, so rq keeps no result worth reading. result_ttl=0
    # would make rq delete the job with seven more round trips per job (it looks up the job's
    # status and executions first); a one-second TTL lets Redis expire it instead. Failures
    # stay a day for ``rq info`` and the dashboard.
    options: dict[str, Any] = {
        "job_id": retry_job_id(kind, ref, attempt) if later else job_id(kind, ref),
        "job_timeout": 300,
        "result_ttl": 1,
        "failure_ttl": 86400,
    }
    try:
        queue = rt.queue(spec.queue)
        if delay is not None and later:
            queue.enqueue_in(delay, spec.function, kind, ref, **options)
        else:
            queue.enqueue(spec.function, kind, ref, **options)
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
    with unit_of_work(rt.sessions) as s:
        return claim_in(s, kind, ref, now=rt.clock(), lease=lease_of(rt))


def lease_of(rt: Runtime) -> timedelta:
    return timedelta(seconds=rt.settings.outbox_lease_seconds)


# The statements every job runs, built once: building them (and their cache keys) per call
# took about as long as PostgreSQL took to run them. Values are bound at execution.
_earlier = aliased(OutboxRow)
_OLDER_OPEN = exists().where(
    _earlier.order_key == OutboxRow.order_key,
    _earlier.id < OutboxRow.id,
    _earlier.state.in_(_OPEN),
)
_WHEN = OutboxRow.__table__.c.lease_until.type
_TAKE = (
    update(OutboxRow)
    .where(
        OutboxRow.kind == bindparam("c_kind"),
        OutboxRow.ref == bindparam("c_ref"),
        or_(
            OutboxRow.state == "pending",
            and_(OutboxRow.state == "leased", OutboxRow.lease_until < bindparam("c_now")),
        ),
        ~_OLDER_OPEN,
    )
    .values(
        state="leased",
        lease_until=bindparam("c_lease_until", type_=_WHEN),
        attempts=OutboxRow.attempts + 1,
    )
    .returning(OutboxRow.id, OutboxRow.attempts)
    .execution_options(synchronize_session=False)
)
_WAIT_FOR_OLDER = (
    update(OutboxRow)
    .where(
        OutboxRow.kind == bindparam("c_kind"),
        OutboxRow.ref == bindparam("c_ref"),
        OutboxRow.state == "pending",
        _OLDER_OPEN,
    )
    .values(next_attempt_at=bindparam("c_next", type_=_WHEN))
    .execution_options(synchronize_session=False)
)
_COMPLETE = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("c_id"))
    .values(
        state="done",
        done_at=bindparam("c_done_at", type_=_WHEN),
        lease_until=None,
        last_error=None,
    )
)


def claim_in(
    session: Session, kind: str, ref: str, *, now: datetime, lease: timedelta
) -> Claim | None:
    """:func:`claim` inside the caller's transaction, so a job can take the row and record
    that its work started in one commit.

    One compare-and-set UPDATE does it: the row must be pending (or its lease run out) and no
    older row with its order_key open, so two workers given the same job cannot both take it
    and one item's rows go strictly in order. Only when it misses is the row looked at again.
    """
    took = session.execute(
        _TAKE, {"c_kind": kind, "c_ref": ref, "c_now": now, "c_lease_until": now + lease}
    ).first()
    if took is not None:
        return Claim(id=took.id, kind=kind, ref=ref, attempts=took.attempts)
    # Missed: done, leased by another worker, or behind an older row of the same key. The last
    # one is retried a little later (sooner when the older row finishes and hands it on).
    session.execute(_WAIT_FOR_OLDER, {"c_kind": kind, "c_ref": ref, "c_next": now + ORDER_WAIT})
    return None


def complete(session: Session, claim_: Claim, *, now: datetime) -> None:
    """Marks the work done; call in the same transaction as the work's own result."""
    session.execute(_COMPLETE, {"c_id": claim_.id, "c_done_at": now})


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
    with unit_of_work(rt.sessions) as s:
        released = release(s, claim_, error, now=rt.clock(), delay=delay)
    if released:  # taken over meanwhile: the new holder schedules its own work
        dispatch(rt, claim_.kind, claim_.ref, delay=delay, attempt=claim_.attempts)
    return delay


def release(
    session: Session, claim_: Claim, error: str, *, now: datetime, delay: timedelta
) -> bool:
    """:func:`retry_later` inside the caller's transaction (dispatch after the commit).

    Only the current holder releases: a worker whose lease ran out and was taken over changes
    nothing (else it would undo the new holder's lease, or a ``done``). Returns whether it did.
    """
    result = session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id == claim_.id,
            OutboxRow.state == "leased",
            OutboxRow.attempts == claim_.attempts,
        )
        .values(
            state="pending",
            lease_until=None,
            next_attempt_at=now + delay,
            last_error=error[:500],
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def make_due(session: Session, kind: str, refs: list[str], *, now: datetime) -> None:
    """Pending rows of ``kind`` among ``refs`` become due now, whatever backoff they reached
    (their ILS answers again); in chunks, for long outages."""
    for start in range(0, len(refs), 500):
        session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.kind == kind,
                OutboxRow.ref.in_(refs[start : start + 500]),
                OutboxRow.state == "pending",
                OutboxRow.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )


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
            select(OutboxRow.kind, OutboxRow.ref, OutboxRow.state, OutboxRow.attempts)
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
    for kind, ref, state, attempts in rows:
        if kind not in KINDS:
            continue
        if state == "pending" and _queued_within(rt, kind, ref, attempts, lease):
            continue
        dispatch(rt, kind, ref)
        sent += 1
    return sent


def _queued_within(rt: Runtime, kind: str, ref: str, attempts: int, window: timedelta) -> bool:
    """True when the row's job, or the delayed retry its last attempt scheduled, sits in its
    queue, put there less than ``window`` ago (rq's clock)."""
    keys = [Job.key_for(job_id(kind, ref)), Job.key_for(retry_job_id(kind, ref, attempts))]
    try:
        with rt.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, "status", "enqueued_at")
            found = pipe.execute()
    except Exception:  # Redis down: dispatch will say so and the next sweep retries
        return False
    return any(_recently_queued(status, enqueued, window) for status, enqueued in found)


def _recently_queued(status: Any, enqueued: Any, window: timedelta) -> bool:
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
