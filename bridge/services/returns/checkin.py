"""The worker's check-in of one deposit (what the rq job runs), and the replay of deposits
that wait for the ILS once it answers again.

The deposit's outbox row is claimed first; the finish only lands while this attempt still owns
the deposit. What the ILS is asked, and what its answer makes of the deposit, is
``bridge.services.returns.findings``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bridge.infra import ils_circuit, outbox
from bridge.runtime import Runtime
from bridge.services import equipment
from bridge.services.deposits import KIND, deposit_audit_values
from bridge.services.ill import notices as ill_notices
from bridge.services.returns.findings import Attempt, Finding, NotApplied, check_in_at_ils
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.returns import DepositRow
from ils_adapters.base import IlsAdapter, IlsUnavailable, OutcomeUnknown
from lockers.states import DepositState, check_deposit_transition

log = logging.getLogger(__name__)

# Deposits waiting for the ILS are retried at most this far apart; replay_waiting (run by the
# sweeper) makes them due as soon as a ping succeeds, so replay does not wait for this.
WAITING_RETRY_CAP = timedelta(minutes=5)
# A reply lost on the wire: the ILS is probably up, look again soon.
UNKNOWN_OUTCOME_RETRY = timedelta(seconds=2)

_TERMINAL = (DepositState.CHECKED_IN, DepositState.NEEDS_STAFF)


# One attempt is two short transactions around the ILS call, never one held open across it:
#
# 1. start: claim the outbox row, read the deposit, move it to ``checking_in`` (audited) and
#    set ``checkin_sent`` when the checkin goes out next - all one commit, so a crash after it
#    verifies with item status first;
# 2. the ILS call(s), outside any transaction;
# 3. finish: the result, its audit event, the ILL hook and the outbox row done - one commit;
#    or, when the ILS is unreachable, ``waiting_for_ils`` and the outbox row released.
#
# Each write of steps 1 and 3 is a single statement; the finish only lands while this attempt
# still owns the deposit (``attempts`` unchanged), so a worker whose lease ran out and was
# taken over cannot overwrite what the new holder does.


def check_in_deposit(
    rt: Runtime,
    deposit_id: int,
    *,
    adapter: Callable[[Runtime, str], IlsAdapter] = adapter_for,
) -> DepositState | None:
    """Claims the deposit's outbox row and checks it in (what the rq job runs).

    Returns the state it was left in, or None when there was nothing to do (another worker
    holds it, an earlier deposit of the same item is still open, or it is finished). Leaves it
    ``waiting_for_ils`` (rescheduled) when the ILS is unreachable or the reply was lost. Any
    other error releases the claim for a later retry and is raised.
    """
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        claim = outbox.claim_in(s, KIND, str(deposit_id), now=now, lease=outbox.lease_of(rt))
        attempt = _start(rt, s, claim, now) if claim is not None else None
    return _attempt(rt, attempt, adapter) if attempt is not None else None


_START_COLUMNS = (
    DepositRow.bank_id,
    DepositRow.compartment,
    DepositRow.item_barcode,
    DepositRow.deposited_at,
    DepositRow.state,
    DepositRow.attempts,
    DepositRow.checkin_sent,
)
# Statements every check-in runs, built once (building one and its cache key per call cost
# about as much as running it); values are bound at execution.
_START_ROW = select(*_START_COLUMNS).where(DepositRow.id == bindparam("d_id"))
_FOLLOWING = (
    select(OutboxRow.ref)
    .where(
        OutboxRow.kind == KIND,
        OutboxRow.order_key == bindparam("d_item"),
        OutboxRow.state == "pending",
        OutboxRow.ref != bindparam("d_ref"),
    )
    .order_by(OutboxRow.id)
    .limit(1)
)
_AUDIT = insert(AuditEventRow)


def _start(rt: Runtime, s: Session, claim: outbox.Claim, now: datetime) -> Attempt | None:
    """Step 1, in the claim's transaction; None (and the outbox row done) if already finished."""
    deposit_id = int(claim.ref)
    row = s.execute(_START_ROW, {"d_id": deposit_id}).first()
    if row is None or DepositState(row.state) in _TERMINAL:
        outbox.complete(s, claim, now=now)
        return None
    verify_after = timedelta(minutes=rt.settings.deposit_verify_after_minutes)
    verify_first = row.checkin_sent or now - row.deposited_at > verify_after
    attempt = Attempt(
        claim=claim,
        deposit_id=deposit_id,
        bank_id=row.bank_id,
        compartment=row.compartment,
        item=row.item_barcode,
        deposited_at=row.deposited_at,
        number=row.attempts + 1,
        verify_first=verify_first,
        sent_before=row.checkin_sent,
    )
    values: dict[str, Any] = {"attempts": attempt.number}
    if not verify_first:
        values["checkin_sent"] = True  # the checkin goes out next: from now on, verify first
    was = DepositState(row.state)
    if was is not DepositState.CHECKING_IN:  # already so after a crash: nothing to audit
        values.update(
            _moved(s, attempt, was, DepositState.CHECKING_IN, now, f"attempt {claim.attempts}")
        )
    s.execute(
        update(DepositRow)
        .where(DepositRow.id == deposit_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return attempt


def _attempt(
    rt: Runtime, attempt: Attempt, adapter: Callable[[Runtime, str], IlsAdapter]
) -> DepositState | None:
    """Steps 2 and 3."""
    try:
        branch = rt.settings.bank(attempt.bank_id).branch
        finding = check_in_at_ils(rt, adapter(rt, attempt.bank_id), attempt, branch)
    except IlsUnavailable as exc:
        return _wait(rt, attempt, f"ILS unavailable: {exc}", unsent=isinstance(exc, NotApplied))
    except OutcomeUnknown as exc:
        return _wait(rt, attempt, f"outcome unknown: {exc}", unknown=True)
    except Exception as exc:
        outbox.retry_later(rt, attempt.claim, f"{type(exc).__name__}: {exc}")
        raise
    stored, following = _finish(rt, attempt, finding)
    if following is not None:  # the next deposit of this item waited for this one: start it
        outbox.dispatch(rt, KIND, following)
    return finding.state if stored else None


def _wait(
    rt: Runtime, attempt: Attempt, error: str, *, unknown: bool = False, unsent: bool = False
) -> DepositState | None:
    """Parks the deposit in ``waiting_for_ils`` and reschedules its check-in, in one commit."""
    now = rt.clock()
    claim = attempt.claim
    if unknown:  # a reply lost on the wire: the ILS is probably up, look again soon
        delay = UNKNOWN_OUTCOME_RETRY
    else:
        delay = min(outbox.backoff(claim.attempts), WAITING_RETRY_CAP)
    with unit_of_work(rt.sessions) as s:
        values = _moved(
            s, attempt, DepositState.CHECKING_IN, DepositState.WAITING_FOR_ILS, now, error[:200]
        )
        values["last_error"] = error[:300]
        if unsent:
            values["checkin_sent"] = False  # the ILS did not act: the retry needs no lookup
        if not _update_own(s, attempt, values):
            s.rollback()
            return None
        outbox.release(s, claim, error, now=now, delay=delay)
    outbox.dispatch(rt, KIND, claim.ref, delay=delay, attempt=claim.attempts)
    return DepositState.WAITING_FOR_ILS


def _finish(rt: Runtime, attempt: Attempt, finding: Finding) -> tuple[bool, str | None]:
    """Stores the finding, in one commit with its audit event, the ILL hook and the outbox row
    done. Returns whether it was stored, and the outbox ref of the item's next deposit, if one
    waits."""
    now = rt.clock()
    why = finding.reason.value if finding.reason else (finding.outcome or "checked in")
    with unit_of_work(rt.sessions) as s:
        values = _moved(s, attempt, DepositState.CHECKING_IN, finding.state, now, why)
        values.update(
            outcome=finding.outcome,
            reason=finding.reason.value if finding.reason else None,
            destination=finding.destination,
            suggestion=finding.suggestion,
            screen_message=(finding.screen_message or "")[:300] or None,
            finished_at=now,
            last_error=None,
        )
        if finding.ils_confirmed:
            values["ils_confirmed_at"] = now
            values["depositor"] = None  # the ILS has the return; the link is no longer needed
        if finding.checkin_sent is not None:
            values["checkin_sent"] = finding.checkin_sent
        if not _update_own(s, attempt, values):
            s.rollback()
            return False, None
        if finding.ils_confirmed:
            # The ILS has the item back: an ILL loan's partner is told, a lent device goes
            # back in stock (or to inspection).
            ill_notices.on_checked_in(rt, s, attempt.item, now)
            equipment.on_checked_in(rt, s, attempt.item, now)
        outbox.complete(s, attempt.claim, now=now)
        following = s.scalars(
            _FOLLOWING, {"d_item": attempt.item, "d_ref": attempt.claim.ref}
        ).first()
    return True, following


def _update_own(s: Session, attempt: Attempt, values: dict[str, Any]) -> bool:
    """Writes ``values`` while this attempt still owns the deposit (nobody started another)."""
    result = s.execute(
        update(DepositRow)
        .where(
            DepositRow.id == attempt.deposit_id,
            DepositRow.attempts == attempt.number,
            DepositRow.state == DepositState.CHECKING_IN.value,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 1:
        return True
    log.warning(
        "deposit %s was taken over by a later attempt; attempt %d leaves it alone",
        attempt.deposit_id,
        attempt.number,
    )
    return False


def _moved(
    s: Session, attempt: Attempt, was: DepositState, to: DepositState, at: datetime, why: str
) -> dict[str, Any]:
    """The one way a claimed deposit changes state: checked against the table and audited in
    the same transaction. Returns the column values to write."""
    check_deposit_transition(was, to)
    s.execute(
        _AUDIT,
        [
            deposit_audit_values(
                attempt.deposit_id,
                attempt.bank_id,
                attempt.compartment,
                attempt.item,
                was,
                to,
                at=at,
                actor="system",
                why=why,
            )
        ],
    )
    return {"state": to.value, "state_since": at}


def replay_waiting(
    rt: Runtime, *, adapter: Callable[[Runtime, str], IlsAdapter] = adapter_for
) -> int:
    """Makes deposits waiting for an ILS due now if that ILS answers a ping; returns how many.

    Run just before the outbox sweep, so the first replay starts within one sweeper interval
    of the ILS coming back, whatever backoff the deposits had reached.
    """
    with unit_of_work(rt.sessions) as s:
        waiting = s.execute(
            select(DepositRow.bank_id, DepositRow.id).where(
                DepositRow.state == DepositState.WAITING_FOR_ILS.value
            )
        ).all()
    ping = lambda bank_id: adapter(rt, bank_id).ping()  # noqa: E731
    return ils_circuit.replay_answering(rt, KIND, waiting, ping, "waiting deposit(s) replayed")
