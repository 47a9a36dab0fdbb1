"""What the ILS says about a deposit's item, and what that makes of the deposit.

:func:`check_in_at_ils` is the ILS call(s) of one check-in attempt
(``bridge.services.returns.checkin``): an old deposit, or one whose earlier checkin may have been
applied (its reply lost), is looked up with item status first; the answer becomes a
:class:`Finding`: checked in, or needing staff for a :class:`StaffReason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update

from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.returns import DepositRow
from ils_adapters.base import (
    CheckinKind,
    CheckinOutcome,
    CirculationStatus,
    IlsAdapter,
    IlsRejected,
    IlsUnavailable,
    ItemStatus,
)
from lockers.states import DepositState

# A loan whose due date is this far past the deposit cannot be the loan that was returned: the
# item was lent again after the deposit (SIP2 item information does not name the borrower).
LONGEST_LOAN = timedelta(days=42)


class StaffReason(StrEnum):
    """Why a deposit needs a person; the staff page words each one."""

    UNKNOWN_ITEM = "unknown_item"
    CHANGED_HANDS = "changed_hands"  # lent again since the deposit
    NOT_ON_LOAN = "not_on_loan"  # checked in elsewhere since the deposit
    HOLD_HERE = "hold_here"  # fills a hold at this bank: load it into a pickup compartment
    TRANSIT = "transit"  # must travel to ``destination``
    REJECTED = "rejected"  # the ILS refused; see the screen message
    ILS_ALERT = "ils_alert"  # an alert we cannot interpret


LOAD_FOR_PICKUP = "load_for_pickup"


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
class Attempt:
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


class NotApplied(IlsUnavailable):
    """The checkin itself found the ILS unreachable: nothing was applied."""


def check_in_at_ils(rt: Runtime, ils: IlsAdapter, attempt: Attempt, branch: str) -> Finding:
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
        raise NotApplied(str(exc)) from exc
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


def _mark_sent(rt: Runtime, attempt: Attempt) -> None:
    """Committed before the checkin is sent, so a crash after it verifies first."""
    with unit_of_work(rt.sessions) as s:
        s.execute(
            update(DepositRow)
            .where(DepositRow.id == attempt.deposit_id)
            .values(checkin_sent=True)
            .execution_options(synchronize_session=False)
        )
