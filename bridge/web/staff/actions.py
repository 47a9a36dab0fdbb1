"""What staff can change from the status page; one transaction per action, every one audited.

Each function raises :class:`ActionRefused` with a sentence for the page when the action may
not happen (nothing changed); anything else is a bug or an outage and propagates.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import func, select

from bridge.notify.staff import dismiss
from bridge.runtime import Runtime
from bridge.services import banks
from bridge.services.access.attempts import InFlight
from bridge.services.doors.opening import open_door
from bridge.services.emptying import NotEmptiable, door_emptied
from bridge.services.expiry import NotOnRemovalList, Route, Routed, staff_remove
from bridge.services.offline_loans import NotRefused, resolve_refused
from bridge.services.returns.worklist import DepositNotFound, NotNeedingStaff, resolve_needs_staff
from bridge.services.staff.accounts import StaffUser, verify_totp
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from lockers.errors import IllegalTransition, UnknownCompartment
from lockers.states import CompartmentState

_S = CompartmentState
REMOTE_UNLOCK = "remote_unlock"


class ActionRefused(Exception):
    """The action was not carried out; ``str()`` says why, for the person who asked."""


def actor_of(user: StaffUser) -> str:
    return f"staff:{user.username}"


def unlocks_in_last_hour(rt: Runtime) -> int:
    since = rt.clock() - timedelta(hours=1)
    with unit_of_work(rt.sessions) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.kind == REMOTE_UNLOCK, AuditEventRow.at >= since)
            )
            or 0
        )


def remote_unlock(
    rt: Runtime, user: StaffUser, bank_id: str, number: int, reason: str, totp_code: str
) -> None:
    """Opens one door from afar, for a stated reason, with a fresh second-factor code.

    The limit (``web.remote_unlocks_per_hour``) counts every remote unlock of the whole
    installation: a stolen admin account must not be able to empty a city's lockers (a
    mass remote-unlock opened 2,732 parcel lockers in Moscow in 2020).

    Raises:
        ActionRefused: no reason, no or wrong code, limit reached, or the door did not open.
    """
    reason = " ".join(reason.split())
    if len(reason) < 5:
        raise ActionRefused("Say why the door must be opened (at least a few words).")
    if not user.has_totp:
        raise ActionRefused("Remote unlock needs a second factor; ask an admin to enrol one.")
    # Count, check and record one at a time across every web process, so two unlocks sent
    # together cannot both pass the limit's last place.
    with _one_at_a_time(rt) as held:
        if not held:
            raise ActionRefused("Another remote unlock is under way; try again in a moment.")
        _unlock_under_lock(rt, user, bank_id, number, reason, totp_code)


@contextlib.contextmanager
def _one_at_a_time(rt: Runtime, wait_seconds: float = 10.0) -> Iterator[bool]:
    flight = InFlight(rt.redis, "remote-unlock", seconds=60)
    deadline = time.monotonic() + wait_seconds
    while not flight.__enter__().held and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield flight.held
    finally:
        flight.__exit__(None, None, None)


def _unlock_under_lock(
    rt: Runtime, user: StaffUser, bank_id: str, number: int, reason: str, totp_code: str
) -> None:
    limit = rt.settings.web.remote_unlocks_per_hour
    if unlocks_in_last_hour(rt) >= limit:
        raise ActionRefused(
            f"The limit of {limit} remote unlocks per hour is reached; open the door on site."
        )
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        if not verify_totp(s, user.id, totp_code, settings=rt.settings):
            banks.audit(
                s,
                "remote_unlock_refused",
                at=now,
                bank_id=bank_id,
                compartment=number,
                actor=actor_of(user),
                why="wrong or reused second-factor code",
            )
            refused = True
        else:
            refused = False
    if refused:
        raise ActionRefused("The authenticator code is wrong or was already used.")

    try:
        rt.settings.bank(bank_id)
    except KeyError as exc:
        raise ActionRefused(f"There is no bank {bank_id!r}.") from exc
    opening = open_door(rt, bank_id, number, actor=actor_of(user))
    if opening.ok:
        outcome = "opened"
    elif opening.controller_offline:
        outcome = "controller offline"
    else:
        outcome = "did not open"
    with unit_of_work(rt.sessions) as s:
        # Stored whatever happened: an attempt counts against the limit too.
        banks.audit(
            s,
            REMOTE_UNLOCK,
            at=now,
            bank_id=bank_id,
            compartment=number,
            actor=actor_of(user),
            why=reason[:300],
            outcome=outcome,
        )
    if outcome != "opened":
        raise ActionRefused(f"Door {number} {outcome}; nothing was opened.")


def set_out_of_service(
    rt: Runtime, user: StaffUser, bank_id: str, number: int, out: bool, reason: str
) -> str:
    """Takes a compartment out of service or brings it back; returns the new state."""
    now = rt.clock()
    why = " ".join(reason.split()) or ("staff action" if out else "back in service")
    try:
        with unit_of_work(rt.sessions) as s:
            banks.lock_bank(s, bank_id)
            state = banks.load_bank(s, bank_id)
            if out:
                event = state.bank.transition(
                    number, _S.OUT_OF_SERVICE, at=now, actor=actor_of(user), reason=why
                )
            else:
                event = state.bank.return_to_service(
                    number, at=now, actor=actor_of(user), reason=why
                )
                state.rows[number].fault = None
            banks.save_compartments(state, now)
            banks.audit_events(s, [event], actor=actor_of(user))
            return event.to_state
    except (IllegalTransition, UnknownCompartment, banks.UnknownBank) as exc:
        raise ActionRefused(f"Compartment {number} cannot change now ({exc}).") from exc


def remove_expired(rt: Runtime, user: StaffUser, bank_id: str, number: int) -> str:
    """Staff take uncollected items out: the expiry service opens the door, checks the items
    in at the bank and frees the door. Returns where each item goes now, for the page."""

    try:
        removal = staff_remove(rt, bank_id, number, actor_of(user))
    except (NotOnRemovalList, KeyError) as exc:
        raise ActionRefused(f"Compartment {number} is not on the removal list.") from exc
    if not removal.ok:
        raise ActionRefused(f"Door {number} did not open; it is reported. Nothing was changed.")
    branch = rt.settings.bank(bank_id).branch
    listing = "; ".join(f"{r.item}: {_route_words(r, branch)}" for r in removal.items)
    return f"Compartment {number} is open and now free. {listing}"


def _route_words(routed: Routed, branch: str) -> str:
    """Where a removed item goes now, for the member of staff holding it."""
    if routed.route is Route.SEND_TO:
        return routed.destination or "reshelve here"
    if routed.route is Route.NEW_HOLD_HERE:
        return f"a new hold here ({branch}): scan it to load it again"
    if routed.route is Route.DESK_CHECKIN:
        return f"check it in at the desk (the catalogue did not answer: {routed.ils_error})"
    return "reshelve here"


def return_door_emptied(rt: Runtime, user: StaffUser, bank_id: str, number: int) -> None:
    """Staff emptied a full return door (:func:`bridge.services.emptying.door_emptied`)."""
    try:
        door_emptied(rt, bank_id, number, actor_of(user))
    except NotEmptiable as exc:
        raise ActionRefused(str(exc)) from exc


def dismiss_message(rt: Runtime, user: StaffUser, notification_id: int) -> None:
    """A failed patron message was dealt with (phoned, address corrected): off the list."""

    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        if not dismiss(s, notification_id, now=now):
            raise ActionRefused("That message is not on the list any more.")
        banks.audit(s, "message_dismissed", at=now, actor=actor_of(user), message=notification_id)


def resolve_offline_loan(rt: Runtime, user: StaffUser, loan_id: int, note: str) -> None:
    """A refused offline loan was sorted out with the patron and the ILS."""

    try:
        resolve_refused(rt, loan_id, actor_of(user), note.strip() or "handled")
    except NotRefused as exc:
        raise ActionRefused(f"Offline loan {loan_id} is not waiting for staff any more.") from exc


def resolve_deposit(rt: Runtime, user: StaffUser, deposit_id: int, note: str) -> None:
    """A needs-staff deposit was handled (returns service does the work and the audit)."""

    try:
        resolve_needs_staff(rt, deposit_id, actor_of(user), note.strip() or "handled")
    except (DepositNotFound, NotNeedingStaff) as exc:
        raise ActionRefused(f"Deposit {deposit_id} is not waiting for staff any more.") from exc
