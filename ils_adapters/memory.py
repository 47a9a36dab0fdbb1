"""An in-memory ILS for fast service-layer tests.

It follows the same rules as Koha over SIP2 (hold capture when the hold's pickup location is
the check-in location, transfer home otherwise, "not checked out" on a repeat check-in unless
the profile says repeats are fine) and passes the same contract suite as the real adapters.

Faults can be injected: ``go_offline()`` makes every call raise IlsUnavailable, and
``lose_next_reply()`` applies the next state-changing call and then raises OutcomeUnknown,
exactly like a SIP reply lost on the wire.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ils_adapters.base import (
    CheckinKind,
    CheckinOutcome,
    CheckoutKind,
    CheckoutOutcome,
    CirculationStatus,
    Contact,
    IlsUnavailable,
    ItemStatus,
    OutcomeUnknown,
    PatronCheck,
)
from ils_adapters.profiles import KOHA, IlsProfile


@dataclass
class _Patron:
    barcode: str
    pin: str
    block_reasons: tuple[str, ...] = ()
    fines: Decimal = Decimal("0")
    contact: Contact = field(default_factory=Contact)
    name: str | None = None


@dataclass
class _Item:
    barcode: str
    home: str
    title: str
    fee: Decimal | None = None
    status: CirculationStatus = CirculationStatus.AVAILABLE
    borrower: str | None = None
    due: datetime | None = None
    location: str | None = None
    destination: str | None = None


@dataclass
class _Hold:
    patron: str
    item: str
    pickup_location: str
    captured: bool = False
    expires: datetime | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryIls:
    """A fake ILS implementing :class:`ils_adapters.base.IlsAdapter`.

    ``clock`` supplies "now" (timezone-aware); ``hold_shelf_days`` and ``loan_days`` set the
    hold-shelf expiry and due date it hands out.
    """

    def __init__(
        self,
        profile: IlsProfile = KOHA,
        *,
        clock: Callable[[], datetime] = _utc_now,
        hold_shelf_days: int = 7,
        loan_days: int = 21,
    ) -> None:
        self.profile = profile
        self._clock = clock
        self._hold_shelf = timedelta(days=hold_shelf_days)
        self._loan = timedelta(days=loan_days)
        self._patrons: dict[str, _Patron] = {}
        self._items: dict[str, _Item] = {}
        self._holds: list[_Hold] = []
        self._online = True
        self._lose_next = False
        self._lock = threading.Lock()
        self.checkins: list[tuple[str, str, datetime]] = []  # (item, at, returned_at), applied

    # --- seeding (test set-up; not part of IlsAdapter) ------------------------------------

    def add_patron(
        self,
        barcode: str,
        pin: str,
        *,
        block_reasons: tuple[str, ...] = (),
        fines: Decimal = Decimal("0"),
        email: str | None = None,
        phone: str | None = None,
        language: str | None = None,
        name: str | None = None,
    ) -> None:
        self._patrons[barcode] = _Patron(
            barcode, pin, block_reasons, fines, Contact(email, phone, language), name
        )

    def add_item(
        self, barcode: str, *, home: str, title: str = "", fee: Decimal | None = None
    ) -> None:
        self._items[barcode] = _Item(barcode, home, title or f"Item {barcode}", fee, location=home)

    def place_hold(self, patron: str, item: str, *, pickup_location: str) -> None:
        self._known_item(item)
        self._holds.append(_Hold(patron, item, pickup_location))

    def lend(self, patron: str, item: str, *, due: datetime | None = None) -> None:
        """Put ``item`` on loan to ``patron`` directly, as a staff desk would."""
        it = self._known_item(item)
        it.status, it.borrower = CirculationStatus.CHARGED, patron
        it.due = due or self._clock() + self._loan

    def go_offline(self) -> None:
        self._online = False

    def go_online(self) -> None:
        self._online = True

    def lose_next_reply(self) -> None:
        self._lose_next = True

    # --- IlsAdapter -----------------------------------------------------------------------

    def ping(self) -> bool:
        return self._online

    def checkin(
        self, item: str, *, at: str, returned_at: datetime, replayed: bool = False
    ) -> CheckinOutcome:
        with self._lock:
            self._answering()
            outcome = self._checkin(item, at=at, returned_at=returned_at)
            self._maybe_lose_reply()
            return outcome

    def item_status(self, item: str) -> ItemStatus:
        with self._lock:
            self._answering()
            it = self._items.get(item)
            if it is None:
                return ItemStatus(item, known=False, status=CirculationStatus.UNKNOWN)
            hold = self._captured_hold(item)
            return ItemStatus(
                item,
                known=True,
                status=it.status,
                title=it.title,
                location=it.location,
                destination=it.destination,
                hold_shelf_expires=hold.expires if hold else None,
                due=it.due,
                captured_hold=hold is not None,
                holds_queued=sum(1 for h in self._holds if h.item == item),
            )

    def verify_patron(self, patron: str, pin: str) -> PatronCheck:
        with self._lock:
            self._answering()
            p = self._patrons.get(patron)
            if p is None:
                return PatronCheck(
                    patron,
                    known=False,
                    pin_ok=False,
                    blocked=True,
                    block_reasons=("card not recognised",),
                )
            pin_ok = hmac.compare_digest(p.pin.encode(), pin.encode())
            return PatronCheck(
                patron,
                known=True,
                pin_ok=pin_ok,
                blocked=bool(p.block_reasons),
                block_reasons=p.block_reasons,
                fines=p.fines,
                language=p.contact.language,
                contact=p.contact,
            )

    def checkout(
        self,
        patron: str,
        item: str,
        *,
        fee_acknowledged: bool = False,
        offline_at: datetime | None = None,
    ) -> CheckoutOutcome:
        with self._lock:
            self._answering()
            outcome = self._checkout(
                patron, item, fee_acknowledged=fee_acknowledged, no_block=offline_at is not None
            )
            self._maybe_lose_reply()
            return outcome

    def loans_of(self, patron: str) -> tuple[str, ...]:
        with self._lock:
            self._answering()
            return tuple(b for b, it in self._items.items() if it.borrower == patron)

    def patron_contact(self, patron: str) -> Contact | None:
        with self._lock:
            self._answering()
            p = self._patrons.get(patron)
            return p.contact if p else None

    # --- the rules ------------------------------------------------------------------------

    def _checkin(self, item: str, *, at: str, returned_at: datetime) -> CheckinOutcome:
        it = self._items.get(item)
        if it is None:
            return CheckinOutcome(
                False, CheckinKind.UNKNOWN_ITEM, item, screen_message="Item not found"
            )
        was_on_loan = it.status.on_loan
        self.checkins.append((item, at, returned_at))
        it.borrower, it.due = None, None
        # Koha: a repeat check-in answers ok=0 unless the SIP account has checked_in_ok,
        # but a hold found for the item is still reported (and captured).
        ok = was_on_loan or self.profile.repeat_checkin_ok
        hold = self._captured_hold(item) or self._next_hold(item)
        if hold is not None:
            return self._route_hold(it, hold, at=at, ok=ok)
        if it.home != at:
            it.status, it.destination, it.location = CirculationStatus.IN_TRANSIT, it.home, at
            return CheckinOutcome(ok, CheckinKind.TRANSIT, item, destination=it.home)
        it.status, it.destination, it.location = CirculationStatus.AVAILABLE, None, at
        if not ok:
            return CheckinOutcome(
                False, CheckinKind.NOT_CHECKED_OUT, item, screen_message="Item not checked out"
            )
        return CheckinOutcome(True, CheckinKind.NO_HOLD, item)

    def _route_hold(self, it: _Item, hold: _Hold, *, at: str, ok: bool) -> CheckinOutcome:
        it.location = at
        if hold.pickup_location != at:
            it.status, it.destination = CirculationStatus.IN_TRANSIT, hold.pickup_location
            return CheckinOutcome(
                ok,
                CheckinKind.HOLD_ELSEWHERE,
                it.barcode,
                destination=hold.pickup_location,
                hold_patron=hold.patron,
                hold_patron_name=self._name_of(hold.patron),
            )
        if not hold.captured:
            hold.captured = True
            hold.expires = self._clock() + self._hold_shelf
        it.status, it.destination = CirculationStatus.WAITING_ON_HOLD_SHELF, at
        return CheckinOutcome(
            ok,
            CheckinKind.HOLD_HERE,
            it.barcode,
            destination=at,
            hold_patron=hold.patron,
            hold_expires=hold.expires,
            hold_patron_name=self._name_of(hold.patron),
        )

    def _name_of(self, barcode: str) -> str | None:
        patron = self._patrons.get(barcode)
        return patron.name if patron else None

    def _checkout(
        self, patron: str, item: str, *, fee_acknowledged: bool, no_block: bool = False
    ) -> CheckoutOutcome:
        refused = replace(_REFUSED, item=item, patron=patron)
        p, it = self._patrons.get(patron), self._items.get(item)
        if p is None:
            return replace(refused, screen_message="Patron not found")
        if p.block_reasons and not no_block:
            return replace(refused, screen_message="; ".join(p.block_reasons))
        if it is None:
            return replace(refused, screen_message="Item not found")
        if it.borrower == patron:
            it.due = self._clock() + self._loan
            return CheckoutOutcome(True, CheckoutKind.RENEWED, item, patron, due=it.due)
        if it.borrower is not None:
            return replace(refused, screen_message="Item checked out to another patron")
        hold = self._captured_hold(item)
        if hold is not None and hold.patron != patron:
            return replace(refused, screen_message="Item on hold for another patron")
        if it.fee and not fee_acknowledged:
            return CheckoutOutcome(
                False,
                CheckoutKind.FEE_NEEDS_ACKNOWLEDGEMENT,
                item,
                patron,
                fee=it.fee,
                screen_message=f"Rental charge {it.fee}",
            )
        if hold is not None:
            self._holds.remove(hold)
        it.status, it.borrower, it.destination = CirculationStatus.CHARGED, patron, None
        it.due = self._clock() + self._loan
        return CheckoutOutcome(True, CheckoutKind.LOANED, item, patron, due=it.due, fee=it.fee)

    def _next_hold(self, item: str) -> _Hold | None:
        return next((h for h in self._holds if h.item == item and not h.captured), None)

    def _captured_hold(self, item: str) -> _Hold | None:
        return next((h for h in self._holds if h.item == item and h.captured), None)

    def _known_item(self, item: str) -> _Item:
        try:
            return self._items[item]
        except KeyError:
            raise KeyError(f"seed the item {item!r} with add_item first") from None

    def _answering(self) -> None:
        if not self._online:
            raise IlsUnavailable("the in-memory ILS is offline")

    def _maybe_lose_reply(self) -> None:
        if self._lose_next:
            self._lose_next = False
            raise OutcomeUnknown("reply lost after the ILS applied the request")


_REFUSED = CheckoutOutcome(False, CheckoutKind.REFUSED, item="", patron="")
