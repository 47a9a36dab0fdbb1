"""Returns: a deposit is stored durably first, then checked in by a background job.

Use cases, one transaction each:

- :func:`record_deposit` - the door closed on a returned item (controller event);
- :func:`check_in_deposit` - the worker's check-in of one deposit (called by the rq job);
- :func:`replay_waiting` - make deposits that wait for the ILS due at once when it answers;
- :func:`returns_overview` / :func:`resolve_needs_staff` - the staff page;
- :func:`purge_depositor_links` - the retention backstop for the patron↔item link.

The rules (docs/returns.md; docs/architecture.md, Return): the check-in is backdated to the
deposit time and sent with the bank's branch as location; an old deposit, or one whose earlier
check-in may have been applied (reply lost, worker died), is looked up with item status first,
so no item is checked in twice and no loan started after the deposit is closed by it. No-block
check-in is never used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bridge.infra import ils_circuit, outbox
from bridge.runtime import Runtime
from bridge.services import equipment, ill
from bridge.services.deposits import KIND as KIND
from bridge.services.deposits import add_deposit as add_deposit
from bridge.services.deposits import deposit_audit_values
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.returns import DepositRow
from ils_adapters.base import (
    CheckinKind,
    CheckinOutcome,
    CirculationStatus,
    IlsAdapter,
    IlsRejected,
    IlsUnavailable,
    ItemStatus,
    OutcomeUnknown,
)
from lockers.states import DepositState, check_deposit_transition

log = logging.getLogger(__name__)

# Deposits waiting for the ILS are retried at most this far apart; replay_waiting (run by the
# sweeper) makes them due as soon as a ping succeeds, so replay does not wait for this.
WAITING_RETRY_CAP = timedelta(minutes=5)
# A reply lost on the wire: the ILS is probably up, look again soon.
UNKNOWN_OUTCOME_RETRY = timedelta(seconds=2)
# A loan whose due date is this far past the deposit cannot be the loan that was returned: the
# item was lent again after the deposit (SIP2 item information does not name the borrower).
LONGEST_LOAN = timedelta(days=42)

_TERMINAL = (DepositState.CHECKED_IN, DepositState.NEEDS_STAFF)


class StaffReason(StrEnum):
    """Why a deposit needs a person; the staff page words each one."""

    UNKNOWN_ITEM = "unknown_item"
    CHANGED_HANDS = "changed_hands"  # lent again since the deposit
    NOT_ON_LOAN = "not_on_loan"  # checked in elsewhere since the deposit
    HOLD_HERE = "hold_here"  # fills a hold at this bank: load it into a pickup compartment
    TRANSIT = "transit"  # must travel to ``destination``
    REJECTED = "rejected"  # the ILS refused; see the screen message
    ILS_ALERT = "ils_alert"  # an alert we cannot interpret


REASON_TEXT = {
    StaffReason.UNKNOWN_ITEM: "The catalogue does not know this barcode.",
    StaffReason.CHANGED_HANDS: "The item was lent again after it was deposited.",
    StaffReason.NOT_ON_LOAN: "The item was already checked in elsewhere after the deposit.",
    StaffReason.HOLD_HERE: "A hold is waiting here: load it into a pickup compartment.",
    StaffReason.TRANSIT: "Send the item to {destination}.",
    StaffReason.REJECTED: "The catalogue refused the check-in: {message}",
    StaffReason.ILS_ALERT: "The catalogue raised an alert: {message}",
}

LOAD_FOR_PICKUP = "load_for_pickup"


class DepositNotFound(LookupError):
    """No deposit has that id (a stale link on the staff page)."""


class NotNeedingStaff(ValueError):
    """The deposit is not waiting for staff (already resolved, or still in progress)."""


# --- recording ----------------------------------------------------------------------------


def record_deposit(
    rt: Runtime,
    *,
    bank_id: str,
    compartment: int,
    item_barcode: str,
    deposited_at: datetime,
    depositor: str | None = None,
    event_id: str | None = None,
) -> int:
    """Stores a deposit, its audit event and its check-in work in one transaction; returns its id.

    The check-in is handed to a worker after the commit. The same controller ``event_id`` for a
    bank twice returns the first deposit's id and queues nothing new.

    Raises:
        KeyError: ``bank_id`` is not configured.
        ValueError: ``deposited_at`` is naive or the barcode is empty.
    """
    rt.settings.bank(bank_id)
    if deposited_at.tzinfo is None:
        raise ValueError("deposited_at must be timezone-aware")
    item_barcode = item_barcode.strip()
    if not item_barcode:
        raise ValueError("a deposit needs an item barcode")
    with unit_of_work(rt.sessions) as s:
        deposit_id, new = add_deposit(
            s,
            bank_id=bank_id,
            compartment=compartment,
            item_barcode=item_barcode,
            deposited_at=deposited_at,
            now=rt.clock(),
            depositor=depositor,
            event_id=event_id,
        )
    if new:
        outbox.dispatch(rt, KIND, str(deposit_id))
    return deposit_id


# --- checking in --------------------------------------------------------------------------
#
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


@dataclass(frozen=True)
class Finding:
    """How a check-in attempt ended, before it is stored."""

    state: DepositState
    outcome: str | None = None
    reason: StaffReason | None = None
    destination: str | None = None
    suggestion: str | None = None
    screen_message: str | None = None
    ils_confirmed: bool = False
    checkin_sent: bool | None = None  # False: the ILS surely did not act (None: leave as is)


@dataclass(frozen=True)
class _Attempt:
    """A claimed deposit as read when this attempt started."""

    claim: outbox.Claim
    deposit_id: int
    bank_id: str
    compartment: int
    item: str
    deposited_at: datetime
    number: int  # the deposit's attempt count, this one included
    verify_first: bool
    sent_before: bool


class _NotApplied(IlsUnavailable):
    """The checkin itself found the ILS unreachable: nothing was applied."""


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


def _start(rt: Runtime, s: Session, claim: outbox.Claim, now: datetime) -> _Attempt | None:
    """Step 1, in the claim's transaction; None (and the outbox row done) if already finished."""
    deposit_id = int(claim.ref)
    row = s.execute(_START_ROW, {"d_id": deposit_id}).first()
    if row is None or DepositState(row.state) in _TERMINAL:
        outbox.complete(s, claim, now=now)
        return None
    verify_after = timedelta(minutes=rt.settings.deposit_verify_after_minutes)
    verify_first = row.checkin_sent or now - row.deposited_at > verify_after
    attempt = _Attempt(
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
    rt: Runtime, attempt: _Attempt, adapter: Callable[[Runtime, str], IlsAdapter]
) -> DepositState | None:
    """Steps 2 and 3."""
    try:
        branch = rt.settings.bank(attempt.bank_id).branch
        finding = _check_in(rt, adapter(rt, attempt.bank_id), attempt, branch)
    except IlsUnavailable as exc:
        return _wait(rt, attempt, f"ILS unavailable: {exc}", unsent=isinstance(exc, _NotApplied))
    except OutcomeUnknown as exc:
        return _wait(rt, attempt, f"outcome unknown: {exc}", unknown=True)
    except Exception as exc:
        outbox.retry_later(rt, attempt.claim, f"{type(exc).__name__}: {exc}")
        raise
    stored, following = _finish(rt, attempt, finding)
    if following is not None:  # the next deposit of this item waited for this one: start it
        outbox.dispatch(rt, KIND, following)
    return finding.state if stored else None


def _check_in(rt: Runtime, ils: IlsAdapter, attempt: _Attempt, branch: str) -> Finding:
    item, sent_before = attempt.item, attempt.sent_before
    if attempt.verify_first:
        status = ils.item_status(item)
        if not status.known:
            return _staff(StaffReason.UNKNOWN_ITEM, CheckinKind.UNKNOWN_ITEM)
        if _lent_again(status, attempt.deposited_at):
            return _staff(StaffReason.CHANGED_HANDS, outcome=None)
        if not status.status.on_loan:
            if sent_before:
                # Our earlier check-in went through; its reply was lost.
                return _from_status(status, branch)
            return _staff(StaffReason.NOT_ON_LOAN, outcome=None)
        if not sent_before:
            _mark_sent(rt, attempt)  # an old deposit: verified, the checkin goes out next
    try:
        # Never replayed=True (SIP2 no-block): it would make the ILS skip its loan rules.
        answer = ils.checkin(item, at=branch, returned_at=attempt.deposited_at)
    except IlsRejected as exc:
        return _staff(
            StaffReason.REJECTED,
            CheckinKind.REJECTED,
            message=exc.screen_message or str(exc),
            unsent=True,
        )
    except IlsUnavailable as exc:
        raise _NotApplied(str(exc)) from exc
    if answer.kind is CheckinKind.NOT_CHECKED_OUT:
        # Koha answers a repeat check-in "not checked out": done only if status confirms it.
        status = ils.item_status(item)
        if status.known and not status.status.on_loan:
            return _from_status(status, branch)
        return _staff(
            StaffReason.REJECTED,
            CheckinKind.NOT_CHECKED_OUT,
            message=answer.screen_message or "not checked out, yet still on loan",
        )
    return _from_outcome(answer)


def _from_outcome(answer: CheckinOutcome) -> Finding:
    kind = answer.kind
    if kind is CheckinKind.NO_HOLD:
        if not answer.ok:
            return _staff(StaffReason.REJECTED, kind, message=answer.screen_message)
        return Finding(DepositState.CHECKED_IN, outcome=kind.value, ils_confirmed=True)
    if kind is CheckinKind.HOLD_HERE:
        return Finding(
            DepositState.NEEDS_STAFF,
            outcome=kind.value,
            reason=StaffReason.HOLD_HERE,
            destination=answer.destination,
            suggestion=LOAD_FOR_PICKUP,
            ils_confirmed=True,
        )
    if kind in (CheckinKind.HOLD_ELSEWHERE, CheckinKind.TRANSIT):
        return Finding(
            DepositState.NEEDS_STAFF,
            outcome=kind.value,
            reason=StaffReason.TRANSIT,
            destination=answer.destination,
            ils_confirmed=True,
        )
    if kind is CheckinKind.UNKNOWN_ITEM:
        return _staff(StaffReason.UNKNOWN_ITEM, kind, message=answer.screen_message)
    if kind is CheckinKind.REJECTED:
        return _staff(StaffReason.REJECTED, kind, message=answer.screen_message)
    return _staff(StaffReason.ILS_ALERT, kind, message=answer.screen_message)


def _from_status(status: ItemStatus, branch: str) -> Finding:
    """The finding for an item the ILS shows as no longer on loan after our check-in."""
    st = status.status
    if st is CirculationStatus.WAITING_ON_HOLD_SHELF and status.destination in (None, branch):
        return Finding(
            DepositState.NEEDS_STAFF,
            outcome=CheckinKind.HOLD_HERE.value,
            reason=StaffReason.HOLD_HERE,
            destination=branch,
            suggestion=LOAD_FOR_PICKUP,
            ils_confirmed=True,
        )
    if st is CirculationStatus.IN_TRANSIT or (
        st is CirculationStatus.WAITING_ON_HOLD_SHELF and status.destination not in (None, branch)
    ):
        return Finding(
            DepositState.NEEDS_STAFF,
            outcome=CheckinKind.TRANSIT.value,
            reason=StaffReason.TRANSIT,
            destination=status.destination,
            ils_confirmed=True,
        )
    return Finding(DepositState.CHECKED_IN, outcome=CheckinKind.NO_HOLD.value, ils_confirmed=True)


def _lent_again(status: ItemStatus, deposited_at: datetime) -> bool:
    return (
        status.status.on_loan
        and status.due is not None
        and status.due > deposited_at + LONGEST_LOAN
    )


def _staff(
    reason: StaffReason,
    outcome: CheckinKind | None,
    *,
    message: str | None = None,
    unsent: bool = False,
) -> Finding:
    return Finding(
        DepositState.NEEDS_STAFF,
        outcome=outcome.value if outcome else None,
        reason=reason,
        screen_message=message,
        checkin_sent=False if unsent else None,
    )


def _mark_sent(rt: Runtime, attempt: _Attempt) -> None:
    """Committed before the checkin is sent, so a crash after it verifies first."""
    with unit_of_work(rt.sessions) as s:
        s.execute(
            update(DepositRow)
            .where(DepositRow.id == attempt.deposit_id)
            .values(checkin_sent=True)
            .execution_options(synchronize_session=False)
        )


def _wait(
    rt: Runtime, attempt: _Attempt, error: str, *, unknown: bool = False, unsent: bool = False
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


def _finish(rt: Runtime, attempt: _Attempt, finding: Finding) -> tuple[bool, str | None]:
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
            ill.on_checked_in(rt, s, attempt.item, now)
            equipment.on_checked_in(rt, s, attempt.item, now)
        outbox.complete(s, attempt.claim, now=now)
        following = s.scalars(
            _FOLLOWING, {"d_item": attempt.item, "d_ref": attempt.claim.ref}
        ).first()
    return True, following


def _update_own(s: Session, attempt: _Attempt, values: dict[str, Any]) -> bool:
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
    s: Session, attempt: _Attempt, was: DepositState, to: DepositState, at: datetime, why: str
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


# --- replay after an outage ---------------------------------------------------------------


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


# --- staff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedsStaff:
    deposit_id: int
    bank_id: str
    compartment: int
    item_barcode: str
    deposited_at: datetime
    reason: str
    explanation: str
    destination: str | None
    suggestion: str | None
    screen_message: str | None


@dataclass(frozen=True)
class ReturnsOverview:
    backlog: int  # deposits not yet through the ILS
    oldest_waiting: datetime | None  # deposit time of the oldest of them
    needs_staff: tuple[NeedsStaff, ...]  # unresolved, oldest first


def explain(reason: str | None, destination: str | None, message: str | None) -> str:
    try:
        text = REASON_TEXT[StaffReason(reason or "")]
    except ValueError:
        return reason or ""
    return text.format(destination=destination or "its home branch", message=message or "-")


def returns_overview(rt: Runtime, *, bank_id: str | None = None) -> ReturnsOverview:
    """Backlog size, the oldest waiting deposit, and what staff must handle, with reasons."""
    open_states = (
        DepositState.RECORDED.value,
        DepositState.CHECKING_IN.value,
        DepositState.WAITING_FOR_ILS.value,
    )
    with unit_of_work(rt.sessions) as s:
        q = select(DepositRow.deposited_at).where(DepositRow.state.in_(open_states))
        staff_q = (
            select(DepositRow)
            .where(
                DepositRow.state == DepositState.NEEDS_STAFF.value,
                DepositRow.resolved_at.is_(None),
            )
            .order_by(DepositRow.deposited_at, DepositRow.id)
        )
        if bank_id is not None:
            q = q.where(DepositRow.bank_id == bank_id)
            staff_q = staff_q.where(DepositRow.bank_id == bank_id)
        times = [t for (t,) in s.execute(q).all()]
        rows = s.scalars(staff_q).all()
        staff = tuple(
            NeedsStaff(
                deposit_id=r.id,
                bank_id=r.bank_id,
                compartment=r.compartment,
                item_barcode=r.item_barcode,
                deposited_at=r.deposited_at,
                reason=r.reason or "",
                explanation=explain(r.reason, r.destination, r.screen_message),
                destination=r.destination,
                suggestion=r.suggestion,
                screen_message=r.screen_message,
            )
            for r in rows
        )
    return ReturnsOverview(len(times), min(times) if times else None, staff)


def resolve_needs_staff(rt: Runtime, deposit_id: int, actor: str, note: str) -> None:
    """Staff say they handled a deposit; it leaves the list and the action is audited.

    Raises:
        DepositNotFound: no such deposit.
        NotNeedingStaff: it is not (or no longer) waiting for staff.
    """
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(DepositRow, deposit_id)
        if row is None:
            raise DepositNotFound(deposit_id)
        if row.state != DepositState.NEEDS_STAFF.value or row.resolved_at is not None:
            raise NotNeedingStaff(f"deposit {deposit_id} is {row.state}, not waiting for staff")
        row.resolved_at, row.resolved_by, row.resolution_note = now, actor, note[:500]
        row.depositor = None
        s.add(
            AuditEventRow(
                at=now,
                kind="deposit.resolved",
                bank_id=row.bank_id,
                compartment=row.compartment,
                actor=actor,
                item=row.item_barcode,
                detail={"deposit": row.id, "reason": row.reason, "note": note[:500]},
            )
        )


def purge_depositor_links(rt: Runtime) -> int:
    """Clears patron↔item links kept longer than the retention setting after the deposit ended."""
    now = rt.clock()
    limit = now - timedelta(hours=rt.settings.retention.patron_item_link_hours)
    with unit_of_work(rt.sessions) as s:
        result = s.execute(
            update(DepositRow)
            .where(
                DepositRow.depositor.is_not(None),
                DepositRow.finished_at.is_not(None),
                DepositRow.finished_at <= limit,
            )
            .values(depositor=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)
