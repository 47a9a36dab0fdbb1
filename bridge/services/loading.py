"""Staff loading: scan an item at a bank, and either a door opens for it or staff are told
where it must go instead (docs/architecture.md, Load).

:func:`scan_item` runs, in order:

1. nothing already loaded with this barcode (answered locally: the ILS is not asked, and
   items already inside other doors are never checked in again);
2. ILS item information: unknown barcode, or on loan to someone, stops here (a check-in would
   return someone's loan); so does an item the ILS says no hold waits for, unless staff
   confirm (a check-in of a stray shelf item would make Koha send it on a transfer);
3. ILS check-in **at the bank's branch** (the bank's own SIP login): the profile-mapped outcome
   says hold here / hold or transfer elsewhere / no hold;
4. hold here → ``lockers.allocation.allocate`` (joins the patron's door when the item fits),
   reservation stored, door opened (``bridge.services.doors.opening.open_door``, which moves the
   reservation if the door fails twice). The patron is told only when the door closes
   (``bridge.services.doors.events.door_closed``).

Each answer is a :class:`ScanResult`: a :class:`ScanOutcome` with the facts the staff page
needs (the staff loading page and the API word it, :mod:`bridge.web.staff.scan_words`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.config import BankSettings
from bridge.runtime import Runtime
from bridge.services import transfers
from bridge.services.banks import (
    audit,
    audit_events,
    load_bank,
    lock_bank,
    pseudonym,
    save_compartments,
)
from bridge.services.doors.opening import open_door
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from ils_adapters.base import (
    CheckinKind,
    CheckinOutcome,
    CirculationStatus,
    IlsRejected,
    IlsUnavailable,
    ItemStatus,
    OutcomeUnknown,
)
from lockers.allocation import NoFit, allocate, apply_allocation
from lockers.model import Item, SizeClass
from lockers.states import CompartmentState


class ScanOutcome(StrEnum):
    DOOR_OPEN = "door_open"  # load the item into ``compartment`` and close the door
    SEND_ELSEWHERE = "send_elsewhere"  # hold or transfer for another place: ``destination``
    NO_HOLD = "no_hold"  # checked in, nobody waits for it here: reshelve
    UNKNOWN_ITEM = "unknown_item"
    ALREADY_LOADED = "already_loaded"
    CHECKED_OUT = "checked_out"  # on loan to a patron: check it in at the desk first
    BANK_FULL = "bank_full"  # hold captured, no door fits: hold shelf instead
    DOOR_FAILED = "door_failed"  # no door could be opened: hold shelf instead
    ILS_UNAVAILABLE = "ils_unavailable"
    NEEDS_STAFF = "needs_staff"  # the ILS said something we cannot act on
    CONFIRM_CHECKIN = "confirm_checkin"  # no hold waits for it: checked in only if staff confirm


class ScanReason(StrEnum):
    """Why, where the outcome alone does not say."""

    ILS_REJECTED = "ils_rejected"  # NEEDS_STAFF: the catalogue refused the check-in
    NO_HOLD_PATRON = "no_hold_patron"  # NEEDS_STAFF: a captured hold, but whose?
    UNEXPECTED_ANSWER = "unexpected_answer"  # NEEDS_STAFF: a check-in answer we cannot act on
    CONTROLLER_OFFLINE = "controller_offline"  # DOOR_FAILED
    NO_DOOR_OPENED = "no_door_opened"  # DOOR_FAILED


@dataclass(frozen=True)
class ScanResult:
    outcome: ScanOutcome
    item: str
    compartment: int | None = None  # DOOR_OPEN, ALREADY_LOADED: the door
    destination: str | None = None
    destination_bank: str | None = None
    retry: bool = False
    reason: ScanReason | None = None
    ils_says: str | None = None  # NEEDS_STAFF: the catalogue's own words, if any
    already_at_bank: str | None = None  # ALREADY_LOADED at another bank: its id
    # DOOR_OPEN: the door the item was meant for, when another one opened instead
    moved_from: int | None = None
    # BANK_FULL, DOOR_FAILED: the locker's own explanation (no door fits, no room), if any
    why_not: str | None = None

    @property
    def door_open(self) -> bool:
        return self.outcome is ScanOutcome.DOOR_OPEN


SIZES = tuple(s.name for s in SizeClass)


def scan_item(
    rt: Runtime,
    bank_id: str,
    item_barcode: str,
    actor: str,
    *,
    size: str | None = None,
    confirmed: bool = False,
) -> ScanResult:
    """Staff scanned ``item_barcode`` at ``bank_id``; see the module docstring.

    ``confirmed``: staff confirmed the check-in of an item the ILS says no hold waits for.

    ``size``: the item's size class (S, M, L, XL) as staff see it; default: the size announced
    with its transfer, else S. Raises KeyError for an unknown bank, ValueError for an empty
    barcode or an unknown size; ILS and hardware trouble come back as outcomes.
    """
    bank = rt.settings.bank(bank_id)
    item = item_barcode.strip()
    if not item:
        raise ValueError("empty item barcode")
    if size is not None and size.upper() not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        inside = s.scalars(
            select(LoadRow).where(
                LoadRow.item_barcode == item, LoadRow.state.in_(("reserved", "loaded"))
            )
        ).first()
        reopen = inside is not None and _never_opened(s, inside, bank_id)
        if inside is not None and not reopen:
            audit(
                s,
                "scan_refused",
                at=now,
                bank_id=bank_id,
                actor=actor,
                item=item,
                reason="already_loaded",
                compartment_in=inside.compartment,
            )
            return ScanResult(
                ScanOutcome.ALREADY_LOADED,
                item,
                compartment=inside.compartment,
                already_at_bank=inside.bank_id if inside.bank_id != bank_id else None,
            )
        announced = transfers.expected_size(s, item)
        size = (size or announced or "S").upper()
    if reopen and inside is not None:
        # Reserved here earlier, but its door is shut and nothing is inside: the process that
        # reserved it died before the door opened (or the answer was lost). The hold is
        # captured already; open the same door again instead of checking the item in twice.
        return _open_reserved(rt, bank, item, inside.compartment, actor)
    adapter = adapter_for(rt, bank_id)
    try:
        status = adapter.item_status(item)
        ask_first = not confirmed and announced is None and no_hold_waits(status)
        if status.known and not status.status.on_loan and not ask_first:
            outcome = adapter.checkin(item, at=bank.branch, returned_at=now)
        else:
            outcome = None
    except (IlsUnavailable, OutcomeUnknown) as exc:
        return _refuse(
            rt,
            bank_id,
            item,
            actor,
            ScanOutcome.ILS_UNAVAILABLE,
            retry=True,
            why=type(exc).__name__,
        )
    except IlsRejected as exc:
        return _refuse(
            rt,
            bank_id,
            item,
            actor,
            ScanOutcome.NEEDS_STAFF,
            why="rejected",
            reason=ScanReason.ILS_REJECTED,
            ils_says=exc.screen_message or str(exc) or None,
        )
    if not status.known:
        return _refuse(
            rt,
            bank_id,
            item,
            actor,
            ScanOutcome.UNKNOWN_ITEM,
            why="unknown_item",
        )
    if outcome is None and not status.status.on_loan:
        return _refuse(
            rt,
            bank_id,
            item,
            actor,
            ScanOutcome.CONFIRM_CHECKIN,
            why="no_hold_unconfirmed",
        )
    if outcome is None:
        return _refuse(
            rt,
            bank_id,
            item,
            actor,
            ScanOutcome.CHECKED_OUT,
            why="checked_out",
        )
    return _after_checkin(rt, bank, item, size, outcome, actor, now, status.title)


def no_hold_waits(status: ItemStatus) -> bool:
    """True when item information says plainly that no hold could take the item: not waiting
    on a hold shelf or travelling, no captured hold, and a hold count of zero. Where the ILS
    does not count holds (``holds_queued`` None) the check-in decides, as before."""
    if not status.known or status.status.on_loan:
        return False
    if status.captured_hold or status.status in (
        CirculationStatus.WAITING_ON_HOLD_SHELF,
        CirculationStatus.IN_TRANSIT,
    ):
        return False
    return status.holds_queued == 0


def _refuse(
    rt: Runtime,
    bank_id: str,
    item: str,
    actor: str,
    outcome: ScanOutcome,
    *,
    why: str,
    retry: bool = False,
    destination: str | None = None,
    destination_bank: str | None = None,
    reason: ScanReason | None = None,
    ils_says: str | None = None,
) -> ScanResult:
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "scan_refused",
            at=rt.clock(),
            bank_id=bank_id,
            actor=actor,
            item=item,
            reason=why,
            destination=destination,
        )
    return ScanResult(
        outcome,
        item,
        destination=destination,
        destination_bank=destination_bank,
        retry=retry,
        reason=reason,
        ils_says=ils_says,
    )


def _after_checkin(
    rt: Runtime,
    bank: BankSettings,
    item: str,
    size: str,
    outcome: CheckinOutcome,
    actor: str,
    now: datetime,
    title: str | None,
) -> ScanResult:
    here = outcome.kind is CheckinKind.HOLD_HERE or (
        outcome.kind is CheckinKind.HOLD_ELSEWHERE
        and transfers.bank_for_location(rt, outcome.destination) == bank.id
    )
    if here:
        if not outcome.hold_patron:
            return _refuse(
                rt,
                bank.id,
                item,
                actor,
                ScanOutcome.NEEDS_STAFF,
                why="no_hold_patron",
                reason=ScanReason.NO_HOLD_PATRON,
            )
        return _load(rt, bank, item, size, outcome, actor, now, title)
    destination = transfers.travels_to(outcome)
    if destination:
        target = transfers.bank_for_location(rt, destination)
        if target is not None:
            with unit_of_work(rt.sessions) as s:
                transfers.announce(
                    s,
                    item=item,
                    bank_id=target,
                    destination=destination,
                    size=size,
                    at=now,
                    actor=actor,
                    scanned_at=bank.branch,
                )
        return _refuse(
            rt,
            bank.id,
            item,
            actor,
            ScanOutcome.SEND_ELSEWHERE,
            why=outcome.kind.value,
            destination=destination,
            destination_bank=target,
        )
    if outcome.kind in (CheckinKind.NO_HOLD, CheckinKind.NOT_CHECKED_OUT):
        return _refuse(
            rt,
            bank.id,
            item,
            actor,
            ScanOutcome.NO_HOLD,
            why=outcome.kind.value,
        )
    if outcome.kind is CheckinKind.UNKNOWN_ITEM:
        return _refuse(
            rt,
            bank.id,
            item,
            actor,
            ScanOutcome.UNKNOWN_ITEM,
            why="unknown_item",
        )
    return _refuse(
        rt,
        bank.id,
        item,
        actor,
        ScanOutcome.NEEDS_STAFF,
        why=outcome.kind.value,
        reason=ScanReason.UNEXPECTED_ANSWER,
        ils_says=outcome.screen_message or None,
    )


def _load(
    rt: Runtime,
    bank: BankSettings,
    item: str,
    size: str,
    outcome: CheckinOutcome,
    actor: str,
    now: datetime,
    title: str | None,
) -> ScanResult:
    patron = outcome.hold_patron or ""
    patron_ref = pseudonym(rt, patron)
    expires = outcome.hold_expires or now + timedelta(days=bank.hold_shelf_days)
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank.id)
        state = load_bank(s, bank.id)
        domain_item = Item(
            barcode=item,
            patron_ref=patron_ref,
            size=SizeClass[size],
            in_transit=item in state.bank.in_transit(),
        )
        chosen = allocate(state.bank, [domain_item])
        if isinstance(chosen, NoFit):
            audit(
                s,
                "scan_refused",
                at=now,
                bank_id=bank.id,
                actor=actor,
                item=item,
                reason="bank_full",
                subject=patron_ref,
            )
            return ScanResult(ScanOutcome.BANK_FULL, item, why_not=chosen.reason or None)
        events = apply_allocation(state.bank, chosen, at=now, actor=actor, expires_at=expires)
        number = chosen.placements[0].compartment
        s.add(
            LoadRow(
                bank_id=bank.id,
                compartment=number,
                item_barcode=item,
                title=title,
                size=size,
                kind="hold",
                state="reserved",
                patron=patron,
                patron_name=outcome.hold_patron_name,
                patron_ref=patron_ref,
                in_transit=domain_item.in_transit,
                created_at=now,
                expires_at=expires,
                loaded_by=actor[:120],
            )
        )
        transfers.arrived(s, item)
        save_compartments(state, now)
        audit_events(s, events, actor=actor)
        audit(
            s,
            "item_scanned",
            at=now,
            bank_id=bank.id,
            compartment=number,
            actor=actor,
            item=item,
            subject=patron_ref,
            joined=chosen.placements[0].existing,
        )
    opening = open_door(rt, bank.id, number, actor=actor)
    if opening.ok:
        return ScanResult(
            ScanOutcome.DOOR_OPEN,
            item,
            compartment=opening.opened,
            moved_from=number if opening.opened != number else None,
        )
    if opening.controller_offline:
        _release(rt, bank.id, item, actor, "controller offline")
        return ScanResult(ScanOutcome.DOOR_FAILED, item, reason=ScanReason.CONTROLLER_OFFLINE)
    _release(rt, bank.id, item, actor, "no door opened")
    return ScanResult(
        ScanOutcome.DOOR_FAILED,
        item,
        reason=ScanReason.NO_DOOR_OPENED,
        why_not=opening.no_room or None,
    )


def _never_opened(s: Session, load: LoadRow, bank_id: str) -> bool:
    """A hold reserved at this bank whose door is shut, so not (yet) loaded."""
    if load.bank_id != bank_id or load.kind != "hold" or load.state != "reserved":
        return False
    door = s.scalars(
        select(CompartmentRow).where(
            CompartmentRow.bank_id == bank_id, CompartmentRow.number == load.compartment
        )
    ).one_or_none()
    return door is not None and not door.door_open and door.state == "reserved"


def _open_reserved(
    rt: Runtime, bank: BankSettings, item: str, number: int, actor: str
) -> ScanResult:
    with unit_of_work(rt.sessions) as s:
        audit(s, "door_reopened", at=rt.clock(), bank_id=bank.id, compartment=number,
              actor=actor, item=item)  # fmt: skip
    opening = open_door(rt, bank.id, number, actor=actor)
    if opening.ok:
        return ScanResult(ScanOutcome.DOOR_OPEN, item, compartment=opening.opened)
    _release(rt, bank.id, item, actor, "no door opened")
    return ScanResult(ScanOutcome.DOOR_FAILED, item, reason=ScanReason.NO_DOOR_OPENED)


def _release(rt: Runtime, bank_id: str, item: str, actor: str, why: str) -> None:
    """Undo a reservation whose door never opened, so the model matches the empty door."""

    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        load = next((ld for ld in state.loads if ld.item_barcode == item), None)
        if load is None:
            return
        number = load.compartment
        s.delete(load)
        others = [ld for ld in state.loads_in(number) if ld.id != load.id]
        compartment = state.bank.compartment(number)
        events = []
        if not others and compartment.state is CompartmentState.RESERVED:
            events.append(
                state.bank.transition(
                    number, CompartmentState.FREE, at=now, actor=actor, reason=why
                )
            )
        save_compartments(state, now)
        audit_events(s, events, actor=actor)
        audit(
            s,
            "load_abandoned",
            at=now,
            bank_id=bank_id,
            compartment=number,
            actor=actor,
            item=item,
            reason=why,
        )
