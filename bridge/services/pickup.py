"""Patron pickup: card + PIN, QR token or typed code (docs/architecture.md, Pickup).

Order of work, whichever way the patron identifies:

1.-2. identify through :mod:`bridge.services.access.verification` (budgets counted before
   anything is checked; card + PIN verified with the ILS, SIP2 63 with CQ = yes, *before* any
   checkout; a code or QR token must match a live grant, keyed hashes only);
3. check out every item in the patron's compartments at this bank (SIP2 11);
4. open only the doors whose items were all checked out; say for the others why not (a
   :class:`RefusalKind` per item, worded by the page that shows it);
5. door closed and empty → compartment free and the patron↔item link purged
   (``bridge.services.doors.events.door_closed``).

Every refusal is audited under a pseudonym and leaves the compartments as they were.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.infra import ils_circuit, outbox
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime
from bridge.services import offline_loans
from bridge.services.access.verification import Verdict, Verified, verify_card, verify_secret
from bridge.services.banks import (
    audit,
    audit_events,
    load_bank,
    lock_bank,
    save_compartments,
)
from bridge.services.doors.opening import open_door
from bridge.services.doors.reopening import opened_for_pickup_since
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow
from ils_adapters.base import (
    CheckoutKind,
    IlsAdapter,
    IlsRejected,
    IlsUnavailable,
    OutcomeUnknown,
    lent_to,
)
from lockers.states import CompartmentState

__all__ = ["PickupOutcome", "PickupResult", "Refusal", "RefusalKind", "hand_over"]


class PickupOutcome(StrEnum):
    OPENED = "opened"  # every waiting door opened
    PARTLY = "partly"  # some doors opened, others stay shut (see refused)
    REFUSED = "refused"  # nothing could be checked out (see refused)
    DENIED = "denied"  # card/PIN or code not accepted
    LOCKED_OUT = "locked_out"
    BLOCKED = "blocked"  # the ILS says this card may not borrow
    NOTHING_WAITING = "nothing_waiting"
    ILS_UNAVAILABLE = "ils_unavailable"
    # The ILS is down: the doors opened and the loans are recorded here, sent when it answers.
    OPENED_OFFLINE = "opened_offline"
    # The ILS is down and card + PIN cannot be checked without it; the code still works.
    CARD_NEEDS_ILS = "card_needs_ils"
    DOOR_FAILED = "door_failed"  # loans recorded but a door did not open: staff were told


class RefusalKind(StrEnum):
    """Why one item's door stays shut."""

    FEE = "fee"  # the loan waits for the patron to accept a charge (``Refusal.fee``)
    ILS_UNAVAILABLE = "ils_unavailable"
    DOOR_OUT_OF_ORDER = "door_out_of_order"
    ILS_REFUSED = "ils_refused"  # the ILS said no (its own words, if any, in ``ils_says``)
    # The checkout's reply was lost and the ILS shows the item on loan to someone else.
    ON_LOAN_ELSEWHERE = "on_loan_elsewhere"


@dataclass(frozen=True)
class Refusal:
    """An item whose door stays shut, and why."""

    item: str
    title: str | None
    compartment: int
    kind: RefusalKind
    fee: str | None = None  # FEE: the charge, as the ILS gave it
    # ILS_REFUSED: the ILS's screen message. Its words, not ours: for staff and the API, never
    # put on a kiosk screen (it may be in another language, or internal).
    ils_says: str | None = None


@dataclass(frozen=True)
class Loan:
    """An item now on loan to the patron, with the due date from the ILS's checkout reply."""

    item: str
    title: str | None
    compartment: int
    due: datetime | None
    offline: bool = False  # lent while the ILS was down: the due date follows by message


@dataclass(frozen=True)
class PickupResult:
    outcome: PickupOutcome
    opened: tuple[int, ...] = ()
    refused: tuple[Refusal, ...] = ()
    locked_until: datetime | None = None
    loans: tuple[Loan, ...] = ()  # what the patron now has on loan (the receipt)
    # The card the loans went to, so the kiosk can offer a receipt after a code or QR pickup.
    patron: str | None = None
    stuck: tuple[int, ...] = ()  # DOOR_FAILED: the doors that did not open
    # BLOCKED: why, in the ILS's words (for staff, never for the kiosk screen).
    block_reasons: tuple[str, ...] = ()

    @property
    def fee_to_acknowledge(self) -> bool:
        return any(r.fee for r in self.refused)


def _refusal(verified: Verified) -> PickupResult:
    """The pickup answer for a verification that did not pass."""
    outcome = {
        Verdict.DENIED: PickupOutcome.DENIED,
        Verdict.LOCKED_OUT: PickupOutcome.LOCKED_OUT,
        Verdict.BUSY: PickupOutcome.LOCKED_OUT,
        Verdict.ILS_UNAVAILABLE: PickupOutcome.ILS_UNAVAILABLE,
    }[verified.verdict]
    return PickupResult(outcome, locked_until=verified.until)


def pickup_with_card(
    rt: Runtime,
    bank_id: str,
    card: str,
    pin: str,
    *,
    kiosk: str = "kiosk",
    fee_acknowledged: bool = False,
) -> PickupResult:
    """Card + PIN pickup (verified by :mod:`bridge.services.access.verification`)."""
    verified = verify_card(rt, bank_id, card, pin, kiosk=kiosk, via="card")
    if verified.verdict is Verdict.ILS_UNAVAILABLE and offline_loans.offline_allowed(rt, bank_id):
        return PickupResult(PickupOutcome.CARD_NEEDS_ILS)
    if not verified.ok:
        return _refusal(verified)
    check, ref = verified.check, verified.patron_ref
    assert check is not None and ref is not None
    if check.blocked:
        said = tuple(check.block_reasons) or tuple(filter(None, [check.screen_message]))
        reasons = "; ".join(said) or "card blocked"
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "pickup_blocked",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                reasons=reasons,
            )
        return PickupResult(PickupOutcome.BLOCKED, block_reasons=said)
    return hand_over(
        rt, bank_id, ref, via="card", actor="patron", fee_acknowledged=fee_acknowledged
    )


def pickup_with_code(
    rt: Runtime, bank_id: str, code: str, *, kiosk: str = "kiosk", fee_acknowledged: bool = False
) -> PickupResult:
    """Typed-code pickup."""
    return _by_secret(rt, bank_id, code, "code", kiosk, fee_acknowledged)


def pickup_with_qr(
    rt: Runtime, bank_id: str, token: str, *, kiosk: str = "kiosk", fee_acknowledged: bool = False
) -> PickupResult:
    """QR-token pickup."""
    return _by_secret(rt, bank_id, token, "qr", kiosk, fee_acknowledged)


def _by_secret(
    rt: Runtime, bank_id: str, secret: str, via: str, kiosk: str, fee_acknowledged: bool
) -> PickupResult:
    verified = verify_secret(
        rt,
        bank_id,
        secret,
        kind=via,
        kiosk=kiosk,
        # Spent by a handover whose doors never opened (the process died between the loans
        # and the doors): the patron's next try finishes it instead of being refused.
        still_entitled=lambda patron_ref: bool(_interrupted(rt, bank_id, patron_ref)),
    )
    if not verified.ok:
        return _refusal(verified)
    assert verified.patron_ref is not None
    return hand_over(
        rt, bank_id, verified.patron_ref, via=via, actor="patron",
        fee_acknowledged=fee_acknowledged,
    )


@dataclass(frozen=True)
class _Waiting:
    id: int
    compartment: int
    item: str
    title: str | None
    patron: str


def hand_over(
    rt: Runtime,
    bank_id: str,
    patron_ref: str,
    *,
    via: str,
    actor: str,
    fee_acknowledged: bool = False,
    adapter: IlsAdapter | None = None,
) -> PickupResult:
    """Checks out and opens the identified patron's compartments (steps 3-4)."""
    with unit_of_work(rt.sessions) as s:
        waiting = [
            _Waiting(ld.id, ld.compartment, ld.item_barcode, ld.title, ld.patron or "")
            for ld in s.scalars(
                select(LoadRow)
                .where(
                    LoadRow.bank_id == bank_id,
                    LoadRow.patron_ref == patron_ref,
                    LoadRow.state == "loaded",
                    LoadRow.kind == "hold",
                )
                .order_by(LoadRow.compartment, LoadRow.id)
            )
        ]
    if not waiting:
        resumed = _interrupted(rt, bank_id, patron_ref)
        if resumed:
            return _result(*_open_all(rt, bank_id, resumed, actor), [], False)
    if not waiting or not waiting[0].patron:
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "pickup_nothing_waiting",
                at=rt.clock(),
                bank_id=bank_id,
                actor=actor,
                subject=patron_ref,
                via=via,
            )
        return PickupResult(PickupOutcome.NOTHING_WAITING)
    ils_name = rt.settings.bank(bank_id).ils
    # Known down a moment ago: no patron waits for the ILS's timeouts again.
    ils_down = ils_circuit.is_down(rt, ils_name)
    adapter = adapter or adapter_for(rt, bank_id)
    by_door: dict[int, list[_Waiting]] = defaultdict(list)
    for w in waiting:
        by_door[w.compartment].append(w)
    with unit_of_work(rt.sessions) as s:
        # Items behind a door that is out of order are not lent: nobody could take them.
        broken = set(
            s.scalars(
                select(CompartmentRow.number).where(
                    CompartmentRow.bank_id == bank_id,
                    CompartmentRow.number.in_(list(by_door)),
                    CompartmentRow.state == CompartmentState.OUT_OF_SERVICE.value,
                )
            )
        )
    refused: list[Refusal] = []
    lent: list[_Waiting] = []
    due: dict[int, datetime | None] = {}
    unsent: list[_Waiting] = []  # not lent because the ILS is down
    maybe_sent: set[int] = set()  # ... though the checkout's lost reply may have gone through
    for w in waiting:
        if w.compartment in broken:
            refused.append(Refusal(w.item, w.title, w.compartment, RefusalKind.DOOR_OUT_OF_ORDER))
            continue
        if ils_down:
            unsent.append(w)
            continue
        problem, said, fee, due[w.id] = _check_out(adapter, w, fee_acknowledged)
        if problem in (RefusalKind.ILS_UNAVAILABLE, _MAYBE_LENT):
            ils_down = True
            ils_circuit.mark_down(rt, ils_name, "checkout found the ILS unreachable")
            unsent.append(w)
            if problem == _MAYBE_LENT:
                maybe_sent.add(w.id)
        elif isinstance(problem, RefusalKind):
            refused.append(Refusal(w.item, w.title, w.compartment, problem, fee, said))
        else:
            lent.append(w)
    offline: list[_Waiting] = []
    if unsent:
        why_not = offline_loans.may_lend(rt, bank_id, patron_ref, via, len(unsent))
        if why_not is None:
            offline = unsent
        else:
            refused.extend(
                Refusal(w.item, w.title, w.compartment, RefusalKind.ILS_UNAVAILABLE) for w in unsent
            )
    refused_doors = {r.compartment for r in refused}
    doors = [n for n in by_door if n not in refused_doors]
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        events = []
        for number in doors:
            if state.bank.compartment(number).state is CompartmentState.LOADED:
                events.append(
                    state.bank.transition(
                        number,
                        CompartmentState.PICKED_UP,
                        at=now,
                        actor=actor,
                        reason=f"pickup by {via}",
                    )
                )
        purge_at = now + timedelta(hours=rt.settings.retention.patron_item_link_hours)
        offline_refs = [
            offline_loans.record(
                rt,
                s,
                bank_id,
                patron_ref,
                offline_loans.Lend(w.id, w.compartment, w.item, w.title, w.patron),
                via=via,
                now=now,
                maybe_sent=w.id in maybe_sent,
            )
            for w in offline
        ]
        offline_ids = {w.id for w in offline}
        for load in state.loads:
            if load.id in offline_ids:
                # Lent here; the ILS hears of it later. The door opens like any other.
                load.state, load.picked_up_at, load.purge_after = "picked_up", now, purge_at
        lent_ids = {w.id for w in lent}
        for load in state.loads:
            if load.id in lent_ids:
                audit(
                    s,
                    "item_checked_out",
                    at=now,
                    bank_id=bank_id,
                    compartment=load.compartment,
                    actor=actor,
                    subject=patron_ref,
                    item=load.item_barcode,
                    via=via,
                )
                if load.compartment in doors:
                    load.state, load.picked_up_at, load.purge_after = "picked_up", now, purge_at
                else:
                    # Lent, but its door stays shut because another item in it was refused.
                    audit(
                        s,
                        "staff_attention",
                        at=now,
                        bank_id=bank_id,
                        compartment=load.compartment,
                        actor="system",
                        item=load.item_barcode,
                        reason="checked out but the door stayed shut",
                    )
        receipt = _queue_receipt(rt, s, bank_id, lent + offline, due, now, offline=bool(offline))
        for r in refused:
            audit(
                s,
                "checkout_refused",
                at=now,
                bank_id=bank_id,
                compartment=r.compartment,
                actor=actor,
                subject=patron_ref,
                item=r.item,
                reason=r.kind.value,
                ils_says=(r.ils_says or "")[:200] or None,
            )
        remaining = [
            ld
            for ld in state.loads
            if ld.patron_ref == patron_ref
            and ld.state == "loaded"
            and ld.kind == "hold"
            and ld.compartment not in doors
        ]
        if not remaining:
            s.execute(
                update(AccessGrantRow)
                .where(
                    AccessGrantRow.bank_id == bank_id,
                    AccessGrantRow.patron_ref == patron_ref,
                    AccessGrantRow.used_at.is_(None),
                )
                .values(used_at=now)
            )
        save_compartments(state, now)
        audit_events(s, events, actor=actor)
    opened, stuck = _open_all(rt, bank_id, doors, actor)
    if receipt:
        outbox.dispatch(rt, "notification", receipt)
    for ref in offline_refs:  # waits in the outbox until the ILS answers (the sweeper replays)
        outbox.dispatch(rt, offline_loans.KIND, ref)
    loans = tuple(Loan(w.item, w.title, w.compartment, due.get(w.id)) for w in lent) + tuple(
        Loan(w.item, w.title, w.compartment, None, offline=True) for w in offline
    )
    handed = lent + offline
    patron = handed[0].patron if handed else None
    result = _result(opened, stuck, refused, ils_down and not offline)
    if offline and result.outcome is PickupOutcome.OPENED:
        result = replace(result, outcome=PickupOutcome.OPENED_OFFLINE)
    return replace(result, loans=loans, patron=patron)


def _open_all(
    rt: Runtime, bank_id: str, doors: list[int], actor: str
) -> tuple[list[int], list[int]]:
    opened: list[int] = []
    stuck: list[int] = []
    for number in doors:
        opening = open_door(rt, bank_id, number, actor=actor)
        (opened if opening.ok else stuck).append(number)
    return opened, stuck


def _interrupted(rt: Runtime, bank_id: str, patron_ref: str) -> list[int]:
    """Doors of a handover cut short: the patron's items lent (``picked_up``) behind a shut
    ``picked_up`` door that has not opened since (no ``pickup_door_opened`` from the
    controller). Opening them is the handover's first opening, never a second one."""
    with unit_of_work(rt.sessions) as s:
        lent = s.execute(
            select(LoadRow.compartment, LoadRow.picked_up_at)
            .join(
                CompartmentRow,
                (CompartmentRow.bank_id == LoadRow.bank_id)
                & (CompartmentRow.number == LoadRow.compartment),
            )
            .where(
                LoadRow.bank_id == bank_id,
                LoadRow.patron_ref == patron_ref,
                LoadRow.state == "picked_up",
                LoadRow.kind == "hold",
                CompartmentRow.state == CompartmentState.PICKED_UP.value,
                CompartmentRow.door_open.is_(False),
            )
        ).all()
        doors = []
        for number, since in lent:
            opened = since is not None and opened_for_pickup_since(s, bank_id, number, since)
            if not opened and number not in doors:
                doors.append(number)
    return sorted(doors)


def _queue_receipt(
    rt: Runtime,
    s: Session,
    bank_id: str,
    lent: list[_Waiting],
    due: dict[int, datetime | None],
    now: datetime,
    *,
    offline: bool = False,
) -> str | None:
    """The patron's receipt (what they now have on loan, each with the due date from the ILS's
    checkout reply), queued in the pickup's own transaction when the library sends receipts."""

    if not lent or not rt.settings.notifications.send_pickup_receipt:
        return None
    dues = [d for d in (due.get(w.id) for w in lent) if d is not None]
    return queue_message(
        s,
        MessageKind.PICKED_UP,
        bank_id=bank_id,
        patron=lent[0].patron,
        event_key="pickup:" + ",".join(str(w.id) for w in sorted(lent, key=lambda w: w.id)),
        facts={
            "titles": [w.title or w.item for w in lent],
            "items": len(lent),
            "picked_up_at": now,
            "due": min(dues) if dues else None,
            "loans": [{"title": w.title or w.item, "due": due.get(w.id)} for w in lent],
            # Lent while the ILS was down: the due date comes in a later message.
            "due_follows": offline,
        },
        now=now,
    )


# A checkout whose reply was lost and whose look-up found the ILS gone: it may have been lent.
_MAYBE_LENT = "maybe lent"


def _check_out(
    adapter: IlsAdapter, w: _Waiting, fee_acknowledged: bool
) -> tuple[RefusalKind | str | None, str | None, str | None, datetime | None]:
    """(None, None, None, due date) when the item is now on loan to the patron, else (why not,
    the ILS's own words, fee, None)."""
    try:
        got = adapter.checkout(w.patron, w.item, fee_acknowledged=fee_acknowledged)
    except IlsUnavailable:
        return RefusalKind.ILS_UNAVAILABLE, None, None, None
    except IlsRejected as exc:
        return RefusalKind.ILS_REFUSED, exc.screen_message or str(exc) or None, None, None
    except OutcomeUnknown:
        # The reply was lost: ask what happened before deciding (docs/sip2-notes.md, Connections).
        try:
            ours, status = lent_to(adapter, w.patron, w.item)
        except (IlsUnavailable, IlsRejected):
            return _MAYBE_LENT, None, None, None
        if ours:
            return None, None, None, status.due
        if status.status.on_loan:
            # The ILS refused our checkout: the item is someone else's loan.
            return RefusalKind.ON_LOAN_ELSEWHERE, None, None, None
        return RefusalKind.ILS_UNAVAILABLE, None, None, None
    if got.ok:
        return None, None, None, got.due
    if got.kind is CheckoutKind.FEE_NEEDS_ACKNOWLEDGEMENT:
        fee = str(got.fee) if got.fee is not None else "a charge"
        return RefusalKind.FEE, got.screen_message or None, fee, None
    return RefusalKind.ILS_REFUSED, got.screen_message or None, None, None


def _result(
    opened: list[int], stuck: list[int], refused: list[Refusal], ils_down: bool
) -> PickupResult:
    if stuck:
        return PickupResult(
            PickupOutcome.DOOR_FAILED, tuple(opened), tuple(refused), stuck=tuple(stuck)
        )
    if opened and not refused:
        return PickupResult(PickupOutcome.OPENED, tuple(opened))
    if opened:
        return PickupResult(PickupOutcome.PARTLY, tuple(opened), tuple(refused))
    if ils_down and all(r.kind is RefusalKind.ILS_UNAVAILABLE for r in refused):
        return PickupResult(PickupOutcome.ILS_UNAVAILABLE, (), tuple(refused))
    return PickupResult(PickupOutcome.REFUSED, (), tuple(refused))


def purge_picked_up(rt: Runtime) -> int:
    """Retention backstop: drops the card number from pickups older than the retention time
    (the door-closed event normally deletes the whole link sooner). Returns rows purged."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        result = s.execute(
            update(LoadRow)
            .where(
                LoadRow.state == "picked_up",
                LoadRow.purge_after <= now,
                LoadRow.patron.is_not(None),
            )
            .values(patron=None, title=None, patron_name=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)
