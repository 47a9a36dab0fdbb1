"""Circulation rules of the reference ACS: checkin, checkout, renew, holds.

Pure functions over a :class:`Catalogue`: they change it and return what happened, in library
words. Turning outcomes into SIP2 fields is the engine's job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sip2.acs.behaviour import Behaviour
from sip2.acs.catalogue import (
    Account,
    Catalogue,
    Hold,
    HoldState,
    Item,
    ItemStatus,
    Patron,
    Transit,
)


class Routing(enum.Enum):
    """Where a checked-in item goes next (SIP2 10 CV alert type in brackets)."""

    SHELVE = None  # no alert
    HOLD_HERE = "01"  # hold for this location: put it on the hold shelf here
    HOLD_ELSEWHERE = "02"  # hold for another branch: send it there (CT)
    TRANSFER = "04"  # no hold, belongs elsewhere: send it home (CT)


@dataclass(frozen=True)
class CheckinOutcome:
    ok: bool
    item: Item | None
    loan_closed: bool = False
    borrower: str | None = None  # whose loan this checkin ended
    routing: Routing = Routing.SHELVE
    destination: str | None = None
    hold: Hold | None = None
    hold_patron: Patron | None = None
    message: str = ""


@dataclass(frozen=True)
class LoanOutcome:
    """Result of a checkout or a renewal."""

    ok: bool
    item: Item | None
    patron: Patron | None
    renewal: bool = False
    due: datetime | None = None
    fee: Decimal = Decimal("0.00")
    hold_filled: Hold | None = None
    message: str = ""


@dataclass(frozen=True)
class HoldOutcome:
    ok: bool
    hold: Hold | None = None
    item: Item | None = None
    queue_position: int = 0
    message: str = ""


def _live(holds: list[Hold], today: date) -> list[Hold]:
    return [h for h in holds if h.expires is None or h.expires >= today]


def checkin(
    cat: Catalogue,
    behaviour: Behaviour,
    account: Account,
    barcode: str,
    *,
    location: str,
    returned: datetime,
    today: date,
) -> CheckinOutcome:
    """Check an item in at ``location``; capture the first hold it can fill."""
    item = cat.item(barcode)
    if item is None:
        return CheckinOutcome(ok=False, item=None, message="Invalid item barcode")
    was_charged = item.status is ItemStatus.CHARGED
    borrower = item.charged_to
    if was_charged and borrower is not None:
        _charge_overdue(cat, item, borrower, returned)
    item = replace(item, status=ItemStatus.AVAILABLE, charged_to=None, due=None, at=location)
    transit = cat.transits.pop(barcode, None)
    queue = _live(cat.queue_for(item), today)
    routing, destination, hold = Routing.SHELVE, None, None
    if queue:
        hold = queue[0]
        destination = hold.pickup
        if hold.pickup == location:
            routing = Routing.HOLD_HERE
            shelf = hold.shelf_expires if hold.state is HoldState.WAITING else None
            shelf = shelf or today + timedelta(days=cat.hold_shelf_days)
            hold = replace(
                hold, state=HoldState.WAITING, captured_item=barcode, shelf_expires=shelf
            )
            item = replace(item, status=ItemStatus.ON_HOLD_SHELF)
        else:
            routing = Routing.HOLD_ELSEWHERE
            hold = replace(
                hold, state=HoldState.IN_TRANSIT, captured_item=barcode, shelf_expires=None
            )
            item = replace(item, status=ItemStatus.IN_TRANSIT)
            cat.put(Transit(barcode, location, hold.pickup, hold.id))
        cat.put(hold)
    else:
        # A transfer arriving at its destination ends here; otherwise the item goes home.
        target = transit.destination if transit is not None else item.home
        if target != location:
            routing, destination = Routing.TRANSFER, target
            item = replace(item, status=ItemStatus.IN_TRANSIT)
            cat.put(Transit(barcode, location, target))
    cat.put(item)
    ok = was_charged or behaviour.repeat_checkin_ok or account.checked_in_ok
    return CheckinOutcome(
        ok=ok,
        item=item,
        loan_closed=was_charged,
        borrower=borrower if was_charged else None,
        routing=routing,
        destination=destination,
        hold=hold,
        hold_patron=cat.patron(hold.patron) if hold is not None else None,
        # Koha: the screen message for a repeat checkin.
        message="" if was_charged else "Item not checked out",
    )


def _charge_overdue(cat: Catalogue, item: Item, borrower: str, returned: datetime) -> None:
    """Overdue fines follow the return date, which is why backdating matters."""
    patron = cat.patron(borrower)
    if patron is None or item.due is None or cat.overdue_fine_per_day <= 0:
        return
    days = (returned.date() - item.due.date()).days
    if days > 0:
        cat.put(replace(patron, fines=patron.fines + cat.overdue_fine_per_day * days))


def checkout(
    cat: Catalogue,
    patron_barcode: str,
    barcode: str,
    *,
    fee_acknowledged: bool,
    no_block: bool,
    now: datetime,
) -> LoanOutcome:
    """Lend an item. The patron's PIN is *not* checked here (Koha and Evergreen don't)."""
    patron, item = cat.patron(patron_barcode), cat.item(barcode)
    if patron is None:
        return LoanOutcome(False, item, None, message="Invalid patron barcode")
    if item is None:
        return LoanOutcome(False, None, patron, message="Invalid item barcode")
    refusal = "" if no_block else _refusal(cat, patron, item)
    if refusal:
        return LoanOutcome(False, item, patron, message=refusal)
    if item.status is ItemStatus.CHARGED:
        if item.charged_to != patron.barcode:
            return LoanOutcome(False, item, patron, message="Item checked out to another patron")
        return renew(cat, patron.barcode, barcode, now=now)
    queue = _live(cat.queue_for(item), now.date())
    if queue and queue[0].patron != patron.barcode and not no_block:
        return LoanOutcome(False, item, patron, message="Item on hold for another patron")
    if item.fee > 0 and not fee_acknowledged:
        return LoanOutcome(
            False,
            item,
            patron,
            fee=item.fee,
            message=f"This item has a fee of {item.fee} {cat.currency}: please accept it",
        )
    filled = queue[0] if queue and queue[0].patron == patron.barcode else None
    if filled is not None:
        del cat.holds[filled.id]
    cat.transits.pop(barcode, None)
    due = _due(now, item.loan_days)
    item = replace(item, status=ItemStatus.CHARGED, charged_to=patron.barcode, due=due)
    cat.put(item)
    if item.fee > 0:
        patron = replace(patron, fines=patron.fines + item.fee)
        cat.put(patron)
    return LoanOutcome(True, item, patron, due=due, fee=item.fee, hold_filled=filled)


def _refusal(cat: Catalogue, patron: Patron, item: Item) -> str:
    if patron.blocked:
        return "Patron is blocked: please see staff"
    if patron.fines > cat.fine_limit:
        return f"Patron owes {patron.fines} {cat.currency}: fines over the limit"
    if item.categories and patron.category not in item.categories:
        return f"This item cannot be borrowed with a {patron.category} card"
    return ""


def _due(now: datetime, loan_days: int) -> datetime:
    # Koha: loans in days are due at 23:59 on the last day.
    return datetime.combine(now.date() + timedelta(days=loan_days), time(23, 59), now.tzinfo)


def renew(cat: Catalogue, patron_barcode: str, barcode: str, *, now: datetime) -> LoanOutcome:
    patron, item = cat.patron(patron_barcode), cat.item(barcode)
    if patron is None:
        return LoanOutcome(False, item, None, message="Invalid patron barcode")
    if item is None or item.charged_to != patron.barcode:
        return LoanOutcome(False, item, patron, message="Item not checked out to this patron")
    if patron.blocked:
        return LoanOutcome(False, item, patron, message="Patron is blocked: please see staff")
    if _live(cat.queue_for(item), now.date()):
        return LoanOutcome(False, item, patron, message="Item on hold for another patron")
    due = _due(now, item.loan_days)
    item = replace(item, due=due)
    cat.put(item)
    return LoanOutcome(True, item, patron, renewal=True, due=due)


def place_hold(
    cat: Catalogue,
    patron_barcode: str,
    *,
    item_barcode: str,
    record: str,
    pickup: str,
    expires: date | None,
) -> HoldOutcome:
    patron = cat.patron(patron_barcode)
    if patron is None:
        return HoldOutcome(False, message="Invalid patron barcode")
    if patron.blocked:
        return HoldOutcome(False, message="Patron is blocked: please see staff")
    item = cat.item(item_barcode) if item_barcode else None
    if item_barcode and item is None:
        return HoldOutcome(False, message="Invalid item barcode")
    if item is None and not any(i.record_id == record for i in cat.items.values()):
        return HoldOutcome(False, message="Nothing to place a hold on")
    if cat.branches and pickup not in cat.branches:
        return HoldOutcome(False, message="Invalid pickup location")
    hold = Hold(
        id=cat.next_hold_id(),
        patron=patron.barcode,
        pickup=pickup,
        item=item.barcode if item else None,
        record=None if item else record,
        expires=expires,
        placed=cat.next_placed(),
    )
    cat.put(hold)
    position = 1
    if item is not None:
        position = [h.id for h in cat.queue_for(item)].index(hold.id) + 1
    return HoldOutcome(True, hold, item, queue_position=position)


def cancel_hold(
    cat: Catalogue, patron_barcode: str, *, item_barcode: str, record: str
) -> HoldOutcome:
    for hold in sorted(cat.holds_of(patron_barcode), key=lambda h: h.placed):
        if (item_barcode and item_barcode in (hold.item, hold.captured_item)) or (
            record and hold.record == record
        ):
            del cat.holds[hold.id]
            if hold.captured_item is not None:
                _release(cat, hold.captured_item)
            return HoldOutcome(True, hold)
    return HoldOutcome(False, message="No such hold")


def _release(cat: Catalogue, barcode: str) -> None:
    """An item captured for a cancelled hold waits for its next checkin to be routed again."""
    item = cat.item(barcode)
    if item is not None and item.status is ItemStatus.ON_HOLD_SHELF:
        cat.put(replace(item, status=ItemStatus.AVAILABLE))
