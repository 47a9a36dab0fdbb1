"""Staff emptying a return door scan each item they take out; the scan says what to do with
it next and records that it is out (and, for a deposit that waited for staff, that it is
handled), so nothing is typed.

Next steps, from what the ILS said at check-in (``DepositRow.outcome``/``destination``):

- a hold here → load it into this bank (the loading screen picks the door);
- a hold elsewhere or a transfer → a transit slip naming the destination;
- checked in with no hold → shelve it here;
- not yet checked in, or the ILS refused it → keep it aside, as the reason says.

When the last deposit of the door is scanned out the door is free for returns again
(:func:`door_emptied`), though offered to deposits only once the controller reports it shut
after that (``bridge.services.deposits.unavailable_doors``). The staff page words each step
(:mod:`bridge.web.staff.return_words`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services import banks
from bridge.services.banks import audit
from bridge.services.deposits import EMPTIED, shut_mark
from bridge.services.returns.worklist import NotNeedingStaff, resolve_needs_staff
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.returns import DepositRow
from lockers.errors import IllegalTransition, UnknownCompartment
from lockers.states import CompartmentState

TAKEN_OUT = "return_taken_out"

LOAD_HERE = "load_here"
TRANSIT = "transit"
SHELVE = "shelve"
ASIDE = "aside"
STEPS = (LOAD_HERE, TRANSIT, SHELVE, ASIDE)


@dataclass(frozen=True)
class NextStep:
    step: str  # one of STEPS
    destination: str | None = None  # TRANSIT: the location code it goes to
    # ASIDE: why it waits for staff (a ``StaffReason`` value; None: not checked in yet)
    reason: str | None = None
    screen_message: str | None = None  # ASIDE: what the ILS said, if anything


@dataclass(frozen=True)
class InDoor:
    deposit_id: int
    item: str
    deposited_at: datetime
    taken_out: bool
    next: NextStep


def next_step(rt: Runtime, d: DepositRow) -> NextStep:
    if d.outcome == "hold_here":
        return NextStep(LOAD_HERE)
    if d.outcome in ("hold_elsewhere", "transit"):
        return NextStep(TRANSIT, d.destination)
    if d.state == "checked_in":
        return NextStep(SHELVE)
    if d.state == "needs_staff":
        return NextStep(ASIDE, d.destination, d.reason or "", d.screen_message)
    return NextStep(ASIDE)


def _since_last_emptied(s: Session, bank_id: str, number: int) -> datetime | None:
    return s.scalar(
        select(AuditEventRow.at)
        .where(
            AuditEventRow.kind == EMPTIED,
            AuditEventRow.bank_id == bank_id,
            AuditEventRow.compartment == number,
        )
        .order_by(AuditEventRow.at.desc())
        .limit(1)
    )


def in_door(rt: Runtime, bank_id: str, number: int) -> list[InDoor]:
    """The deposits put into this return door since it was last emptied."""
    with unit_of_work(rt.sessions) as s:
        since = _since_last_emptied(s, bank_id, number)
        q = select(DepositRow).where(
            DepositRow.bank_id == bank_id, DepositRow.compartment == number
        )
        if since is not None:
            q = q.where(DepositRow.recorded_at > since)
        deposits = list(s.scalars(q.order_by(DepositRow.deposited_at, DepositRow.id)))
        out_ids = {
            (e.detail or {}).get("deposit")
            for e in s.scalars(
                select(AuditEventRow).where(
                    AuditEventRow.kind == TAKEN_OUT,
                    AuditEventRow.bank_id == bank_id,
                    AuditEventRow.compartment == number,
                )
            )
        }
        return [
            InDoor(d.id, d.item_barcode, d.deposited_at, d.id in out_ids, next_step(rt, d))
            for d in deposits
        ]


class NotInDoor(Exception):
    """The scanned item is not among this door's deposits (or was already scanned out)."""


def take_out(rt: Runtime, bank_id: str, number: int, item: str, actor: str) -> InDoor:
    """Records that ``item`` left the door; returns it with its next step.

    Raises NotInDoor."""
    item = item.strip()
    found = next(
        (d for d in in_door(rt, bank_id, number) if d.item == item and not d.taken_out), None
    )
    if found is None:
        raise NotInDoor(item)
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        state = s.scalar(select(DepositRow.state).where(DepositRow.id == found.deposit_id))
        audit(
            s,
            TAKEN_OUT,
            at=now,
            bank_id=bank_id,
            compartment=number,
            actor=actor,
            item=item,
            deposit=found.deposit_id,
            next=found.next.step,
            destination=found.next.destination,
        )
    if state == "needs_staff" and found.next.step != ASIDE:
        # The scan is the handling: the next step shown is what staff do with it. (Someone
        # may have marked it handled meanwhile: then there is nothing left to do.)
        with contextlib.suppress(NotNeedingStaff):
            resolve_needs_staff(
                rt, found.deposit_id, actor, f"taken out of door {number}: {found.next.step}"
            )
    return InDoor(found.deposit_id, found.item, found.deposited_at, True, found.next)


class NotEmptiable(Exception):
    """The door holds no returns to empty (or is no return door); ``str()`` says why."""


def door_emptied(rt: Runtime, bank_id: str, number: int, actor: str) -> None:
    """Staff emptied a full return door: it is free for returns again (the deposits inside
    were recorded when its door closed, so only the door's state changes).

    The door is likely still open in the staff's hand, with the controller's report of that
    still on its way: the audit event keeps the door's last reported close, and the door is not
    offered to a deposit until a later close is reported (``deposits.unavailable_doors``).

    Raises:
        NotEmptiable: the door is not ``return_occupied``, or there is no such door or bank.
    """
    now = rt.clock()
    try:
        with unit_of_work(rt.sessions) as s:
            banks.lock_bank(s, bank_id)
            state = banks.load_bank(s, bank_id)
            current = state.bank.compartment(number).state
            if current is not CompartmentState.RETURN_OCCUPIED:
                raise NotEmptiable(f"Compartment {number} is {current.value}: nothing to empty.")
            events = [
                state.bank.transition(number, to, at=now, actor=actor, reason="emptied by staff")
                for to in (CompartmentState.EMPTIED_BY_STAFF, CompartmentState.RETURN_FREE)
            ]
            banks.save_compartments(state, now)
            banks.audit_events(s, events, actor=actor)
            audit(
                s,
                EMPTIED,
                at=now,
                bank_id=bank_id,
                compartment=number,
                actor=actor,
                shut_at=shut_mark(state.rows[number]),
            )
    except (IllegalTransition, UnknownCompartment, banks.UnknownBank) as exc:
        raise NotEmptiable(f"Compartment {number} cannot be emptied now ({exc}).") from exc
