"""Store and forward for pickups: loans made at the bank while its ILS is unreachable.

A bank whose ``offline_pickup`` allows it lends a patron's items without the ILS when the
patron's secret can be checked here (a typed code or QR token, and with ``codes_and_links``
a phone link with its presence number); card + PIN needs the ILS and is refused. The pickup
(:func:`bridge.services.pickup.hand_over`) writes, in its own transaction with the doors and
loads, one :class:`OfflineLoanRow` per item and its outbox row (:func:`record`).

The worker sends each one later (:func:`send_offline_loan`), the way returns send deposits:

1. one commit claims the outbox row and starts the attempt; ``checkout_sent`` is set then
   when the checkout goes out next, so any later attempt looks the item up (SIP2 17) first;
2. outside any transaction: 17 when an earlier attempt may have been applied (on loan: it
   was), else SIP2 11 with no-block and the pickup time as the transaction date;
3. one commit: ``recorded`` (the card number dropped, the due date kept, the patron's message
   queued once the pickup's last item is recorded) or ``refused`` (on the staff work list with
   the ILS's words); or, ILS still down, the outbox row released with a backoff.

Rows share the outbox's order key with deposits (the item barcode), so a later return of the
same item is checked in only after its offline loan reached the ILS; rows are created, and
replayed, in pickup order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.config import OfflinePickup
from bridge.infra import ils_circuit, outbox
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow
from bridge.storage.tables.offline import OfflineLoanRow
from ils_adapters.base import (
    CheckoutKind,
    IlsAdapter,
    IlsRejected,
    IlsUnavailable,
    OutcomeUnknown,
    lent_to,
)

log = logging.getLogger(__name__)

KIND = "offline_checkout"
WAITING, SENDING, RECORDED, REFUSED = "waiting", "sending", "recorded", "refused"
OPEN_STATES = (WAITING, SENDING)
RETRY_CAP = timedelta(minutes=5)
UNKNOWN_OUTCOME_RETRY = timedelta(seconds=2)

# Which ways of identifying may lend offline under each policy.
_ALLOWED: dict[OfflinePickup, frozenset[str]] = {
    OfflinePickup.OFF: frozenset(),
    OfflinePickup.CODES: frozenset({"code", "qr"}),
    OfflinePickup.CODES_AND_LINKS: frozenset({"code", "qr", "phone"}),
}


def offline_allowed(rt: Runtime, bank_id: str) -> bool:
    return rt.settings.bank(bank_id).offline_pickup is not OfflinePickup.OFF


@dataclass(frozen=True)
class Lend:
    """An item to lend offline (from the pickup's own read of the load)."""

    load_id: int
    compartment: int
    item: str
    title: str | None
    patron: str


def may_lend(rt: Runtime, bank_id: str, patron_ref: str, via: str, count: int) -> str | None:
    """None when the bank lends these ``count`` items offline to this patron now; else why not
    (``"policy"``, ``"items"``, ``"hours"``)."""
    bank = rt.settings.bank(bank_id)
    if via not in _ALLOWED[bank.offline_pickup]:
        return "policy"
    now = rt.clock()
    since = ils_circuit.down_since(rt, bank.ils) or now
    if now - since > timedelta(hours=bank.offline_max_hours):
        return "hours"
    with unit_of_work(rt.sessions) as s:
        waiting = s.scalar(
            select(func.count())
            .select_from(OfflineLoanRow)
            .where(OfflineLoanRow.patron_ref == patron_ref, OfflineLoanRow.state.in_(OPEN_STATES))
        )
    if int(waiting or 0) + count > bank.offline_max_items:
        return "items"
    return None


def record(
    rt: Runtime,
    s: Session,
    bank_id: str,
    patron_ref: str,
    lend: Lend,
    *,
    via: str,
    now: datetime,
    maybe_sent: bool = False,
) -> str:
    """Writes one offline loan and its outbox row in the caller's (the pickup's) transaction;
    returns the outbox ref to dispatch after the commit. ``maybe_sent``: an online checkout of
    it may have reached the ILS (its reply was lost), so the sender looks first."""
    row = OfflineLoanRow(
        bank_id=bank_id,
        ils=rt.settings.bank(bank_id).ils,
        compartment=lend.compartment,
        item_barcode=lend.item,
        title=lend.title,
        patron=lend.patron,
        patron_ref=patron_ref,
        via=via,
        picked_up_at=now,
        state=WAITING,
        state_since=now,
        checkout_sent=maybe_sent,
    )
    s.add(row)
    s.flush()
    outbox.add(s, KIND, str(row.id), now=now, order_key=lend.item)
    audit(
        s,
        "item_lent_offline",
        at=now,
        bank_id=bank_id,
        compartment=lend.compartment,
        actor="patron",
        subject=patron_ref,
        item=lend.item,
        via=via,
        offline_loan=row.id,
    )
    return str(row.id)


# --- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    claim: outbox.Claim
    loan_id: int
    bank_id: str
    ils: str
    item: str
    patron: str
    picked_up_at: datetime
    number: int
    look_first: bool


@dataclass(frozen=True)
class _Answer:
    state: str  # RECORDED or REFUSED
    due: datetime | None = None
    message: str | None = None


class _NotApplied(IlsUnavailable):
    """The checkout itself found the ILS unreachable: nothing was applied."""


def _adapter(rt: Runtime, bank_id: str) -> IlsAdapter:
    return adapter_for(rt, bank_id)


def send_offline_loan(
    rt: Runtime,
    loan_id: int,
    *,
    adapter: Callable[[Runtime, str], IlsAdapter] = _adapter,
) -> str | None:
    """Claims the loan's outbox row and sends it (what the rq job runs). Returns the state it
    was left in, or None when there was nothing to do."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        claim = outbox.claim_in(s, KIND, str(loan_id), now=now, lease=outbox.lease_of(rt))
        attempt = _start(s, claim, now) if claim is not None else None
    if attempt is None:
        return None
    if ils_circuit.is_down(rt, attempt.ils):
        # Known down a moment ago: wait for the replay instead of another timeout here.
        return _wait(rt, attempt, "ILS known to be down", unsent=True)
    try:
        answer = _send(adapter(rt, attempt.bank_id), attempt)
    except IlsUnavailable as exc:
        ils_circuit.mark_down(rt, attempt.ils, str(exc))
        return _wait(rt, attempt, f"ILS unavailable: {exc}", unsent=isinstance(exc, _NotApplied))
    except OutcomeUnknown as exc:
        return _wait(rt, attempt, f"outcome unknown: {exc}", unknown=True)
    except Exception as exc:
        outbox.retry_later(rt, attempt.claim, f"{type(exc).__name__}: {exc}")
        raise
    ils_circuit.mark_up(rt, attempt.ils)
    stored, following, message = _finish(rt, attempt, answer)
    if message is not None:
        outbox.dispatch(rt, "notification", message)
    if following is not None:  # the item's next row (a return) waited for this one
        kind, ref = following
        outbox.dispatch(rt, kind, ref)
    return answer.state if stored else None


def _start(s: Session, claim: outbox.Claim, now: datetime) -> _Attempt | None:
    row = s.get(OfflineLoanRow, int(claim.ref))
    if row is None or row.state not in OPEN_STATES or not row.patron:
        outbox.complete(s, claim, now=now)
        return None
    attempt = _Attempt(
        claim=claim,
        loan_id=row.id,
        bank_id=row.bank_id,
        ils=row.ils,
        item=row.item_barcode,
        patron=row.patron,
        picked_up_at=row.picked_up_at,
        number=row.attempts + 1,
        look_first=row.checkout_sent,
    )
    row.attempts = attempt.number
    row.checkout_sent = True  # from now on every attempt looks the item up first
    if row.state != SENDING:
        row.state, row.state_since = SENDING, now
    return attempt


def _send(ils: IlsAdapter, attempt: _Attempt) -> _Answer:
    if attempt.look_first:
        # On loan to this patron when an earlier attempt went through (its reply was lost, or
        # the worker died). On loan to someone else, the checkout below is refused and staff
        # are told.
        ours, status = lent_to(ils, attempt.patron, attempt.item)
        if ours:
            return _Answer(RECORDED, due=status.due)
    try:
        got = ils.checkout(attempt.patron, attempt.item, offline_at=attempt.picked_up_at)
    except IlsRejected as exc:
        return _Answer(REFUSED, message=exc.screen_message or str(exc))
    except IlsUnavailable as exc:
        raise _NotApplied(str(exc)) from exc
    if got.ok:
        return _Answer(RECORDED, due=got.due)
    if got.kind is CheckoutKind.FEE_NEEDS_ACKNOWLEDGEMENT:
        return _Answer(REFUSED, message=got.screen_message or f"a charge of {got.fee}")
    return _Answer(REFUSED, message=got.screen_message or "refused without a reason")


def _owned(s: Session, attempt: _Attempt) -> OfflineLoanRow | None:
    """The row, while this attempt still owns it (nobody started another since)."""
    row = s.get(OfflineLoanRow, attempt.loan_id)
    if row is None or row.attempts != attempt.number or row.state != SENDING:
        log.warning("offline loan %s was taken over by a later attempt", attempt.loan_id)
        return None
    return row


def _wait(
    rt: Runtime, attempt: _Attempt, error: str, *, unknown: bool = False, unsent: bool = False
) -> str | None:
    now = rt.clock()
    claim = attempt.claim
    delay = UNKNOWN_OUTCOME_RETRY if unknown else min(outbox.backoff(claim.attempts), RETRY_CAP)
    with unit_of_work(rt.sessions) as s:
        row = _owned(s, attempt)
        if row is None:
            return None
        row.state, row.state_since, row.last_error = WAITING, now, error[:300]
        if unsent and not attempt.look_first:
            row.checkout_sent = False  # the ILS surely did not act: no look-up needed
        outbox.release(s, claim, error, now=now, delay=delay)
    outbox.dispatch(rt, KIND, claim.ref, delay=delay, attempt=claim.attempts)
    return WAITING


def _finish(
    rt: Runtime, attempt: _Attempt, answer: _Answer
) -> tuple[bool, tuple[str, str] | None, str | None]:
    now = rt.clock()
    message = None
    with unit_of_work(rt.sessions) as s:
        row = _owned(s, attempt)
        if row is None:
            return False, None, None
        row.state, row.state_since, row.finished_at = answer.state, now, now
        row.due, row.last_error = answer.due, None
        row.screen_message = (answer.message or "")[:300] or None
        audit(
            s,
            "offline_loan_recorded" if answer.state == RECORDED else "offline_loan_refused",
            at=now,
            bank_id=row.bank_id,
            compartment=row.compartment,
            actor="system",
            subject=row.patron_ref,
            item=row.item_barcode,
            offline_loan=row.id,
            picked_up_at=row.picked_up_at.isoformat(),
            reason=(answer.message or "")[:200],
        )
        if answer.state == RECORDED:
            message = _confirm(rt, s, row, now)
            row.patron = None  # the ILS has the loan: the link is no longer needed
        outbox.complete(s, attempt.claim, now=now)
        following = s.execute(
            select(OutboxRow.kind, OutboxRow.ref)
            .where(
                OutboxRow.order_key == row.item_barcode,
                OutboxRow.state == "pending",
                OutboxRow.id != attempt.claim.id,
            )
            .order_by(OutboxRow.id)
            .limit(1)
        ).first()
    return True, (tuple(following) if following else None), message  # type: ignore[return-value]


def _confirm(rt: Runtime, s: Session, row: OfflineLoanRow, now: datetime) -> str | None:
    """The patron's message with the due dates, queued when the last open loan of the same
    pickup is recorded (the kiosk promised it), one message per pickup."""

    same_pickup = s.scalars(
        select(OfflineLoanRow).where(
            OfflineLoanRow.patron_ref == row.patron_ref,
            OfflineLoanRow.bank_id == row.bank_id,
            OfflineLoanRow.picked_up_at == row.picked_up_at,
        )
    ).all()
    if any(r.state in OPEN_STATES for r in same_pickup if r.id != row.id):
        return None
    recorded = [r for r in same_pickup if r.state == RECORDED or r.id == row.id]
    dues = [r.due for r in recorded if r.due is not None]
    return queue_message(
        s,
        MessageKind.PICKED_UP,
        bank_id=row.bank_id,
        patron=row.patron or "",
        event_key="offline:" + ",".join(str(r.id) for r in sorted(recorded, key=lambda r: r.id)),
        facts={
            "titles": [r.title or r.item_barcode for r in recorded],
            "items": len(recorded),
            "picked_up_at": row.picked_up_at,
            "due": min(dues) if dues else None,
            "loans": [{"title": r.title or r.item_barcode, "due": r.due} for r in recorded],
            "recorded_later": True,
        },
        now=now,
    )


# --- after an outage ----------------------------------------------------------------------


def replay_waiting(rt: Runtime, *, adapter: Callable[[Runtime, str], IlsAdapter] = _adapter) -> int:
    """Makes offline loans due now, in pickup order, for every ILS that answers a ping again
    (and clears its "down" mark); returns how many. Run by the sweeper before its sweep."""
    with unit_of_work(rt.sessions) as s:
        waiting = s.execute(
            select(OfflineLoanRow.bank_id, OfflineLoanRow.id)
            .where(OfflineLoanRow.state == WAITING)
            .order_by(OfflineLoanRow.id)
        ).all()
    ping = lambda bank_id: adapter(rt, bank_id).ping()  # noqa: E731
    return ils_circuit.replay_answering(rt, KIND, waiting, ping, "offline loan(s) to send")


# --- staff --------------------------------------------------------------------------------


def waiting_count(s: Session, *, bank_id: str | None = None) -> int:
    """Offline loans not yet recorded by the ILS (the health line)."""
    q = (
        select(func.count())
        .select_from(OfflineLoanRow)
        .where(OfflineLoanRow.state.in_(OPEN_STATES))
    )
    if bank_id is not None:
        q = q.where(OfflineLoanRow.bank_id == bank_id)
    return int(s.scalar(q) or 0)


@dataclass(frozen=True)
class RefusedLoan:
    loan_id: int
    bank_id: str
    compartment: int
    item: str
    title: str | None
    patron: str | None  # the card number, so staff can sort it out with the patron
    picked_up_at: datetime
    reason: str


def refused_loans(rt: Runtime, *, bank_id: str | None = None) -> list[RefusedLoan]:
    """Offline loans the ILS refused afterwards, not yet resolved by staff, oldest first."""
    with unit_of_work(rt.sessions) as s:
        q = (
            select(OfflineLoanRow)
            .where(OfflineLoanRow.state == REFUSED, OfflineLoanRow.resolved_at.is_(None))
            .order_by(OfflineLoanRow.id)
        )
        if bank_id is not None:
            q = q.where(OfflineLoanRow.bank_id == bank_id)
        return [
            RefusedLoan(
                r.id,
                r.bank_id,
                r.compartment,
                r.item_barcode,
                r.title,
                r.patron,
                r.picked_up_at,
                r.screen_message or "",
            )
            for r in s.scalars(q)
        ]


class NotRefused(LookupError):
    """No refused, unresolved offline loan has that id."""


def resolve_refused(rt: Runtime, loan_id: int, actor: str, note: str) -> None:
    """Staff say they handled a refused offline loan: it leaves the list, the card number is
    dropped and the action audited."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(OfflineLoanRow, loan_id)
        if row is None or row.state != REFUSED or row.resolved_at is not None:
            raise NotRefused(loan_id)
        row.resolved_at, row.resolved_by, row.patron = now, actor, None
        values: dict[str, Any] = {"offline_loan": row.id, "note": note[:500]}
        audit(
            s,
            "offline_loan.resolved",
            at=now,
            bank_id=row.bank_id,
            compartment=row.compartment,
            actor=actor,
            item=row.item_barcode,
            **values,
        )
