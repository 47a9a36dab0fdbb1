"""Equipment lending: laptops, hotspots, cameras kept in (charging) equipment compartments.

- :func:`stock_equipment` (staff): puts a lendable item into an empty equipment compartment;
  the door opens, and when it closes the item is ``available`` (``doors.events.door_closed``).
- :func:`borrow_equipment` (patron at the kiosk): card + PIN verified with the ILS first
  (SIP2 63), then the category rules (``settings.equipment``: how many per patron, fines),
  then the ILS checkout (SIP2 11; a charge must be accepted, i.e. sent with BO=Y only when the
  patron said yes), and only then the door opens. A loan recorded whose door never opened
  (the process died between the two) is finished by the patron's next try: the same door
  opens, with no second checkout (:func:`_interrupted_loan`). A checkout whose reply was lost
  is settled by asking the ILS (:func:`_settle_lost_reply`): lent to this patron → the loan
  goes on and the door opens; lent to someone else → refused, the door stays shut.
- The device comes back through the return flow: once the ILS confirms the check-in,
  ``bridge.services.returns.checkin`` calls :func:`on_checked_in`, which puts the device back in
  stock (``available``, not in a door yet) or, when the bank's ``equipment_inspection`` is on, in
  ``inspection`` until staff record it (:func:`record_inspection`). Staff then put it into an
  equipment compartment with :func:`stock_equipment`; only devices behind a door are lent.

Equipment states: ``stocking`` (door open for staff) → ``available`` (in a door) →
``on_loan`` → [``inspection`` →] ``available`` (back in stock, no door) → ``stocking`` ...;
``withdrawn`` when an inspection fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.config import EquipmentCategory
from bridge.runtime import Runtime
from bridge.services.access.verification import Verdict, verify_card
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
from bridge.storage.tables.lockers import EquipmentRow, LoadRow
from ils_adapters.base import (
    CheckoutKind,
    IlsAdapter,
    IlsRejected,
    IlsUnavailable,
    OutcomeUnknown,
    lent_to,
)
from lockers.errors import IllegalTransition
from lockers.model import Item, Purpose, SizeClass
from lockers.states import CompartmentState

_S = CompartmentState
log = logging.getLogger(__name__)


class EquipmentError(ValueError):
    """Staff asked for something the bank cannot do (wrong door, unknown category...)."""


class BorrowOutcome(StrEnum):
    OPENED = "opened"
    FEE_NEEDS_ACKNOWLEDGEMENT = "fee_needs_acknowledgement"
    REFUSED = "refused"  # a category rule or the ILS said no (see ``refusal``)
    NONE_AVAILABLE = "none_available"
    DENIED = "denied"
    LOCKED_OUT = "locked_out"
    BLOCKED = "blocked"
    ILS_UNAVAILABLE = "ils_unavailable"
    DOOR_FAILED = "door_failed"


class BorrowRefusal(StrEnum):
    """Why a REFUSED borrow was refused."""

    OWES_TOO_MUCH = "owes_too_much"  # the category lends only to patrons owing little
    AT_LIMIT = "at_limit"  # the patron already has the category's most per card
    ILS_REFUSED = "ils_refused"  # the ILS said no (its words, if any, in ``ils_says``)
    # The checkout's reply was lost and the ILS shows the device on loan to someone else.
    ON_LOAN_ELSEWHERE = "on_loan_elsewhere"


@dataclass(frozen=True)
class BorrowResult:
    outcome: BorrowOutcome
    item: str | None = None
    compartment: int | None = None
    fee: str | None = None
    due: datetime | None = None
    locked_until: datetime | None = None
    title: str | None = None  # the device's title, when one was chosen
    refusal: BorrowRefusal | None = None  # REFUSED: why
    category: str | None = None  # REFUSED by a rule: the category's label
    limit: str | None = None  # OWES_TOO_MUCH: the most one may owe; AT_LIMIT: the most per card
    has: str | None = None  # OWES_TOO_MUCH: what the patron owes; AT_LIMIT: how many they have
    # ILS_REFUSED, BLOCKED: the ILS's own words (for staff and the API, not the kiosk screen).
    ils_says: str | None = None


def category(rt: Runtime, name: str) -> EquipmentCategory | None:
    return next((c for c in rt.settings.equipment if c.name == name), None)


def stock_equipment(
    rt: Runtime,
    bank_id: str,
    compartment: int,
    item_barcode: str,
    category_name: str,
    actor: str,
    *,
    title: str | None = None,
) -> int:
    """Reserves ``compartment`` for the item and opens it; returns the door that opened.

    Raises EquipmentError (unknown category, not an empty equipment door, item already
    stocked) or KeyError (unknown bank). Raises EquipmentError too when the door does not open.
    """
    rt.settings.bank(bank_id)
    cat = category(rt, category_name)
    if cat is None:
        raise EquipmentError(f"no equipment category {category_name!r} is configured")
    item = item_barcode.strip()
    if not item:
        raise EquipmentError("empty item barcode")
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        if compartment not in state.rows:
            raise EquipmentError(f"there is no compartment {compartment}")
        door = state.bank.compartment(compartment)
        if door.purpose is not Purpose.EQUIPMENT:
            raise EquipmentError(f"compartment {compartment} is not an equipment compartment")
        if cat.needs_charger and not door.has_charger:
            raise EquipmentError(f"{cat.label} needs a compartment with a charger")
        row = s.scalars(select(EquipmentRow).where(EquipmentRow.item_barcode == item)).first()
        if row is not None:
            _check_stockable(row)
        ref = f"equipment:{cat.name}"
        try:
            events = state.bank.place(
                compartment,
                [Item(item, ref, SizeClass.S)],
                at=now,
                actor=actor,
                reason="equipment stocked",
            )
        except IllegalTransition as exc:
            raise EquipmentError(
                f"compartment {compartment} is not free ({door.state.value})"
            ) from exc
        s.add(
            LoadRow(
                bank_id=bank_id,
                compartment=compartment,
                item_barcode=item,
                title=title or cat.label,
                size="S",
                kind="equipment",
                state="reserved",
                patron=None,
                patron_ref=ref,
                created_at=now,
                loaded_by=actor[:120],
            )
        )
        if row is None:
            row = EquipmentRow(item_barcode=item, category=cat.name, title=title or cat.label)
            s.add(row)
        row.bank_id, row.compartment, row.state = bank_id, compartment, "stocking"
        row.category, row.borrower_ref, row.stocked_at, row.stocked_by = cat.name, None, now, actor
        save_compartments(state, now)
        audit_events(s, events, actor=actor)
        audit(
            s,
            "equipment_stocked",
            at=now,
            bank_id=bank_id,
            compartment=compartment,
            actor=actor,
            item=item,
            category=cat.name,
        )
    opening = open_door(rt, bank_id, compartment, actor=actor)
    if not opening.ok:
        raise EquipmentError(f"door {compartment} did not open; it is reported to staff")
    return opening.opened or compartment


def borrow_equipment(
    rt: Runtime,
    bank_id: str,
    card: str,
    pin: str,
    item_or_category: str,
    fee_acknowledged: bool = False,
    *,
    kiosk: str = "kiosk",
) -> BorrowResult:
    """A patron borrows one device; see the module docstring for the order of checks."""

    verified = verify_card(rt, bank_id, card, pin, kiosk=kiosk, via="equipment")
    if not verified.ok:
        outcome = {
            Verdict.DENIED: BorrowOutcome.DENIED,
            Verdict.ILS_UNAVAILABLE: BorrowOutcome.ILS_UNAVAILABLE,
        }.get(verified.verdict, BorrowOutcome.LOCKED_OUT)
        return BorrowResult(outcome, locked_until=verified.until)
    check, ref = verified.check, verified.patron_ref
    assert check is not None and ref is not None
    card = card.strip()
    if check.blocked:
        return BorrowResult(BorrowOutcome.BLOCKED, ils_says="; ".join(check.block_reasons) or None)
    resumed = _interrupted_loan(rt, bank_id, ref)
    if resumed is not None:
        return _open_lent(rt, bank_id, *resumed)
    wanted = item_or_category.strip()
    with unit_of_work(rt.sessions) as s:
        row = _available(s, bank_id, wanted)
        if row is None:
            return BorrowResult(BorrowOutcome.NONE_AVAILABLE)
        item, number, cat_name = row.item_barcode, row.compartment or 0, row.category
        title = row.title
        rule = category(rt, cat_name)
        refusal = _rule_refusal(s, rule, ref, check.fines)
    if refusal:
        refusal = replace(refusal, item=item, title=title)
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "borrow_refused",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                item=item,
                reason=str(refusal.refusal),
                limit=refusal.limit,
                has=refusal.has,
            )
        return refusal
    adapter = adapter_for(rt, bank_id)
    try:
        got = adapter.checkout(card, item, fee_acknowledged=fee_acknowledged)
    except IlsUnavailable:
        return BorrowResult(BorrowOutcome.ILS_UNAVAILABLE, item=item, title=title)
    except OutcomeUnknown:
        return _settle_lost_reply(rt, adapter, bank_id, card, ref, number, item, title)
    except IlsRejected as exc:
        return BorrowResult(
            BorrowOutcome.REFUSED,
            item=item,
            title=title,
            refusal=BorrowRefusal.ILS_REFUSED,
            ils_says=exc.screen_message or str(exc) or None,
        )
    if got.kind is CheckoutKind.FEE_NEEDS_ACKNOWLEDGEMENT:
        fee = str(got.fee) if got.fee is not None else "a charge"
        return BorrowResult(
            BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT, item=item, fee=fee, title=title
        )
    if not got.ok:
        why = got.screen_message or "the library system did not allow this loan"
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "borrow_refused",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                item=item,
                reason=why[:200],
            )
        return BorrowResult(
            BorrowOutcome.REFUSED,
            item=item,
            title=title,
            refusal=BorrowRefusal.ILS_REFUSED,
            ils_says=got.screen_message or None,
        )
    _lent(rt, bank_id, number, item, ref)
    return _open_lent(rt, bank_id, number, item, title, got.due)


def _settle_lost_reply(
    rt: Runtime,
    adapter: IlsAdapter,
    bank_id: str,
    card: str,
    ref: str,
    number: int,
    item: str,
    title: str | None,
) -> BorrowResult:
    """The checkout's reply was lost: the ILS may have lent the device. Asked the way a pickup
    asks (:func:`lent_to`, docs/sip2-notes.md, Connections) before the door is decided on: a
    device left shut in while the ILS shows it lent would stay charged to the patron."""
    try:
        ours, status = lent_to(adapter, card, item)
    except (IlsUnavailable, IlsRejected):
        log.warning("equipment %s: checkout reply lost and the look-up failed", item)
        return BorrowResult(BorrowOutcome.ILS_UNAVAILABLE, item=item, title=title)
    if ours:
        _lent(rt, bank_id, number, item, ref)
        return _open_lent(rt, bank_id, number, item, title, status.due)
    if status.status.on_loan:
        # The ILS refused our checkout: someone else has the device on loan there.
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "borrow_refused",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                item=item,
                reason=str(BorrowRefusal.ON_LOAN_ELSEWHERE),
            )
        return BorrowResult(
            BorrowOutcome.REFUSED, item=item, title=title, refusal=BorrowRefusal.ON_LOAN_ELSEWHERE
        )
    return BorrowResult(BorrowOutcome.ILS_UNAVAILABLE, item=item, title=title)


def _open_lent(
    rt: Runtime,
    bank_id: str,
    number: int,
    item: str,
    title: str | None,
    due: datetime | None = None,
) -> BorrowResult:
    opening = open_door(rt, bank_id, number, actor="patron")
    if not opening.ok:
        return BorrowResult(
            BorrowOutcome.DOOR_FAILED, item=item, compartment=number, due=due, title=title
        )
    return BorrowResult(BorrowOutcome.OPENED, item=item, compartment=number, due=due, title=title)


def _interrupted_loan(rt: Runtime, bank_id: str, ref: str) -> tuple[int, str, str | None] | None:
    """(door, item, title) of the patron's device lent here whose door has not opened since
    (still ``picked_up`` and shut, no ``pickup_door_opened`` from the controller): a borrow cut
    short between the loan and the door. Opening it is the loan's first opening, never a
    second one, so a device taken once is never offered again."""
    with unit_of_work(rt.sessions) as s:
        lent = s.execute(
            select(
                LoadRow.compartment,
                EquipmentRow.item_barcode,
                EquipmentRow.title,
                EquipmentRow.lent_at,
            )
            .join(EquipmentRow, EquipmentRow.item_barcode == LoadRow.item_barcode)
            .join(
                CompartmentRow,
                (CompartmentRow.bank_id == LoadRow.bank_id)
                & (CompartmentRow.number == LoadRow.compartment),
            )
            .where(
                LoadRow.bank_id == bank_id,
                LoadRow.kind == "equipment",
                LoadRow.state == "picked_up",
                EquipmentRow.state == "on_loan",
                EquipmentRow.borrower_ref == ref,
                CompartmentRow.state == _S.PICKED_UP.value,
                CompartmentRow.door_open.is_(False),
            )
            .order_by(LoadRow.compartment)
        ).all()
        for number, item, title, since in lent:
            if since is not None and not opened_for_pickup_since(s, bank_id, number, since):
                return number, item, title
    return None


def _check_stockable(row: EquipmentRow) -> None:
    if row.state == "stocking" or (row.state == "available" and row.compartment is not None):
        raise EquipmentError(
            f"{row.item_barcode} is already stocked in compartment {row.compartment}"
        )
    if row.state == "on_loan":
        raise EquipmentError(
            f"{row.item_barcode} is on loan: return it through a return compartment first"
        )
    if row.state == "inspection":
        raise EquipmentError(f"{row.item_barcode} waits for its inspection: record it first")


def _available(s: Session, bank_id: str, wanted: str) -> EquipmentRow | None:
    """A device of ``wanted`` (barcode or category) behind a door of ``bank_id``."""
    base = select(EquipmentRow).where(
        EquipmentRow.bank_id == bank_id,
        EquipmentRow.state == "available",
        EquipmentRow.compartment.is_not(None),
    )
    by_item = s.scalars(base.where(EquipmentRow.item_barcode == wanted)).first()
    if by_item is not None:
        return by_item
    return s.scalars(
        base.where(EquipmentRow.category == wanted).order_by(EquipmentRow.compartment)
    ).first()


def _rule_refusal(
    s: Session, rule: EquipmentCategory | None, ref: str, fines: Decimal | None
) -> BorrowResult | None:
    if rule is None:
        return None
    if rule.no_fines_over is not None and fines is not None and fines > rule.no_fines_over:
        return BorrowResult(
            BorrowOutcome.REFUSED,
            refusal=BorrowRefusal.OWES_TOO_MUCH,
            category=rule.label,
            limit=str(rule.no_fines_over),
            has=str(fines),
        )
    out = s.scalar(
        select(func.count())
        .select_from(EquipmentRow)
        .where(
            EquipmentRow.borrower_ref == ref,
            EquipmentRow.state == "on_loan",
            EquipmentRow.category == rule.name,
        )
    )
    if (out or 0) >= rule.max_per_patron:
        return BorrowResult(
            BorrowOutcome.REFUSED,
            refusal=BorrowRefusal.AT_LIMIT,
            category=rule.label,
            limit=str(rule.max_per_patron),
            has=str(out),
        )
    return None


def _lent(rt: Runtime, bank_id: str, number: int, item: str, ref: str) -> None:
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        mine = [ld for ld in state.loads_in(number) if ld.item_barcode == item]
        others = [ld for ld in state.loads_in(number) if ld.item_barcode != item]
        events = []
        if not others and state.bank.compartment(number).state is _S.LOADED:
            events.append(
                state.bank.transition(
                    number, _S.PICKED_UP, at=now, actor="patron", reason="equipment borrowed"
                )
            )
            for ld in mine:
                ld.state, ld.picked_up_at = "picked_up", now
        else:
            for ld in mine:
                s.delete(ld)
        row = s.scalars(select(EquipmentRow).where(EquipmentRow.item_barcode == item)).one()
        row.state, row.borrower_ref, row.lent_at, row.compartment = "on_loan", ref, now, None
        save_compartments(state, now)
        audit_events(s, events, actor="patron")
        audit(
            s,
            "equipment_lent",
            at=now,
            bank_id=bank_id,
            compartment=number,
            actor="patron",
            subject=ref,
            item=item,
            category=row.category,
        )


# --- back from a loan -----------------------------------------------------------------------


def on_checked_in(rt: Runtime, s: Session, item_barcode: str, now: datetime) -> None:
    """The ILS confirmed the return of ``item_barcode`` (called by the returns job inside its
    transaction). A lent device goes back in stock, or to staff inspection when its bank asks
    for one; the borrower link is dropped. Anything else is left alone."""
    row = s.scalars(
        select(EquipmentRow).where(
            EquipmentRow.item_barcode == item_barcode, EquipmentRow.state == "on_loan"
        )
    ).first()
    if row is None:
        return
    try:
        inspect = rt.settings.bank(row.bank_id).equipment_inspection
    except KeyError:
        inspect = True  # a bank no longer configured: let staff look at it
    row.state = "inspection" if inspect else "available"
    row.compartment, row.borrower_ref, row.lent_at = None, None, None
    audit(
        s,
        "equipment_returned",
        at=now,
        bank_id=row.bank_id,
        actor="system",
        item=item_barcode,
        category=row.category,
        state=row.state,
    )


def record_inspection(
    rt: Runtime, item_barcode: str, actor: str, *, passed: bool, note: str = ""
) -> str:
    """Staff inspected a returned device: ``available`` (to be stocked again) or ``withdrawn``.
    Returns the new state; raises EquipmentError when the device does not wait for one."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(
            select(EquipmentRow).where(EquipmentRow.item_barcode == item_barcode.strip())
        ).first()
        if row is None or row.state != "inspection":
            raise EquipmentError(f"{item_barcode} does not wait for an inspection")
        row.state = "available" if passed else "withdrawn"
        audit(
            s,
            "equipment_inspected",
            at=now,
            bank_id=row.bank_id,
            actor=actor,
            item=row.item_barcode,
            passed=passed,
            note=note[:200] or None,
        )
        return row.state
