"""Service results in the patron's language: the one place where an outcome becomes words.

The services answer with outcomes (enums such as ``PickupOutcome.DENIED`` or
``LinkState.EXPIRED``) and the facts a page needs (doors, times, fees), never with sentences.
This module maps each outcome to a key of the catalogue in :mod:`bridge.web.kiosk.text`
(one dict per language) and fills in the facts. The kiosk, the phone pages and the JSON API's
``message`` (in English) all word results here; :data:`OUTCOME_KEYS` lists every outcome with
its key, and a test checks that each has words in every language. What the ILS itself said
(``ils_says``, ``block_reasons``) is never put on a patron's screen: it can be in another
language, or internal.

Every refusal says what to do next. The last resort differs by bank: at a staffed bank the
patron may ask at the desk; at a bank marked ``staffed = false`` nobody is there, so the words
name the help number instead (``{help}`` in the catalogue).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from bridge.config import DayUseSettings
from bridge.services.access.phone import LinkState, PhoneOutcome, PhoneResult
from bridge.services.access.readers import ReaderOutcome, ReaderResult
from bridge.services.access.reissue import ReissueOutcome
from bridge.services.dayuse import DayUseOutcome, DayUseResult
from bridge.services.equipment import BorrowOutcome, BorrowRefusal, BorrowResult
from bridge.services.pickup import PickupOutcome, PickupResult, Refusal, RefusalKind
from bridge.web.branding import Brand
from bridge.web.kiosk.text import text

_PICKUP_KEYS: dict[PickupOutcome, str] = {
    PickupOutcome.OPENED: "outcome_opened",
    PickupOutcome.PARTLY: "outcome_partly",
    PickupOutcome.REFUSED: "outcome_refused",
    # a typed code or QR is worded "outcome_denied_code" (see pickup_headline)
    PickupOutcome.DENIED: "outcome_denied_card",
    PickupOutcome.LOCKED_OUT: "outcome_locked_out",
    PickupOutcome.BLOCKED: "outcome_blocked",
    PickupOutcome.NOTHING_WAITING: "outcome_nothing_waiting",
    PickupOutcome.ILS_UNAVAILABLE: "outcome_ils_unavailable",
    PickupOutcome.OPENED_OFFLINE: "outcome_opened_offline",
    PickupOutcome.CARD_NEEDS_ILS: "outcome_card_needs_ils",
    PickupOutcome.DOOR_FAILED: "outcome_door_failed",
}
_REFUSAL_KEYS: dict[RefusalKind, str] = {
    RefusalKind.FEE: "refusal_fee",
    RefusalKind.ILS_UNAVAILABLE: "refusal_ils_unavailable",
    RefusalKind.DOOR_OUT_OF_ORDER: "refusal_door_out_of_order",
    RefusalKind.ILS_REFUSED: "refusal_ils_refused",
    # the patron hears what any refused loan says; staff and the API get the kind
    RefusalKind.ON_LOAN_ELSEWHERE: "refusal_ils_refused",
}
_BORROW_KEYS: dict[BorrowOutcome, str] = {
    BorrowOutcome.OPENED: "borrow_opened",
    BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT: "borrow_fee",
    BorrowOutcome.REFUSED: "borrow_refused",
    BorrowOutcome.NONE_AVAILABLE: "borrow_none_available",
    BorrowOutcome.DENIED: "outcome_denied_card",
    BorrowOutcome.LOCKED_OUT: "outcome_locked_out",
    BorrowOutcome.BLOCKED: "borrow_blocked",
    BorrowOutcome.ILS_UNAVAILABLE: "outcome_ils_unavailable",
    BorrowOutcome.DOOR_FAILED: "borrow_door_failed",
}


@dataclass(frozen=True)
class RefusedLine:
    """One item that stays in the locker, and why, in the patron's words."""

    what: str  # title, or the barcode when the title is not known
    why: str
    fee: str | None


@dataclass(frozen=True)
class ReceiptLine:
    """One item the patron now has on loan, and when it is due back."""

    what: str
    due: str | None


def help_clause(lang: str, brand: Brand) -> str:
    """The last thing a patron can do, as it is at this bank."""
    if brand.staffed:
        return text(lang, "next_desk")
    if brand.help_phone:
        return text(lang, "next_call", phone=brand.help_phone)
    return text(lang, "next_call_library")


def say(lang: str, key: str, brand: Brand, **values: Any) -> str:
    """Catalogue text with ``{help}`` filled in for this bank."""
    return text(lang, key, help=help_clause(lang, brand), **values)


def _until(at: datetime | None, zone: str) -> str | None:
    if at is None:
        return None
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def due_date(lang: str, at: datetime | None, zone: str) -> str | None:
    """A due date as the patron reads it: "Monday 21 December 2026" / "lunes 21 de diciembre
    de 2026", in the bank's time zone."""
    if at is None:
        return None
    local = at.astimezone(ZoneInfo(zone))
    days = text(lang, "weekdays").split(",")
    months = text(lang, "months").split(",")
    return text(
        lang,
        "date_long",
        weekday=days[local.weekday()],
        day=local.day,
        month=months[local.month - 1],
        year=local.year,
    )


def pickup_headline(
    lang: str, result: PickupResult, zone: str, brand: Brand, way: str = "card"
) -> str:
    outcome = result.outcome
    if outcome is PickupOutcome.DENIED:
        return say(lang, "outcome_denied_card" if way == "card" else "outcome_denied_code", brand)
    if outcome is PickupOutcome.LOCKED_OUT:
        until = _until(result.locked_until, zone)
        if until is None:
            return say(lang, "outcome_locked_out_plain", brand)
        return say(lang, "outcome_locked_out", brand, until=until)
    if outcome is PickupOutcome.REFUSED and result.fee_to_acknowledge:
        fees = [r.fee for r in result.refused if r.fee]
        return say(lang, "fee_question", brand, fee=brand.money(fees[0]))
    return say(lang, _PICKUP_KEYS[outcome], brand, doors=", ".join(str(n) for n in result.opened))


def refusal_line(lang: str, refusal: Refusal, brand: Brand) -> RefusedLine:
    what = refusal.title or refusal.item
    key = _REFUSAL_KEYS[refusal.kind]
    fee = brand.money(refusal.fee) if refusal.fee else ""
    return RefusedLine(what, say(lang, key, brand, fee=fee), refusal.fee)


def pickup_receipt(lang: str, result: PickupResult, zone: str) -> list[ReceiptLine]:
    return [
        ReceiptLine(
            ln.title or ln.item,
            text(lang, "receipt_due_follows") if ln.offline else due_date(lang, ln.due, zone),
        )
        for ln in result.loans
    ]


def borrow_headline(lang: str, result: BorrowResult, zone: str, brand: Brand) -> str:
    key = _BORROW_KEYS[result.outcome]
    if result.outcome is BorrowOutcome.LOCKED_OUT:
        until = _until(result.locked_until, zone)
        if until is None:
            return say(lang, "outcome_locked_out_plain", brand)
        return say(lang, key, brand, until=until)
    if result.outcome is BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT:
        return say(lang, "fee_question", brand, fee=brand.money(result.fee or ""))
    return say(lang, key, brand, door=result.compartment or "")


_BORROW_REFUSAL_KEYS: dict[BorrowRefusal, str] = {
    BorrowRefusal.OWES_TOO_MUCH: "borrow_owes_too_much",
    BorrowRefusal.AT_LIMIT: "borrow_at_limit",
    # The headline says it all: the ILS's own words stay off the screen.
    BorrowRefusal.ILS_REFUSED: "borrow_refused",
    BorrowRefusal.ON_LOAN_ELSEWHERE: "borrow_refused",
}


def borrow_detail(lang: str, result: BorrowResult, brand: Brand | None = None) -> str | None:
    """Why a borrow was refused, when the reason is one of the library's own rules (what the
    ILS said stays off the screen: not the patron's language, nor meant for a locker)."""
    if result.refusal in (None, BorrowRefusal.ILS_REFUSED, BorrowRefusal.ON_LOAN_ELSEWHERE):
        return None
    assert result.refusal is not None
    limit, has = result.limit or "", result.has or ""
    if result.refusal is BorrowRefusal.OWES_TOO_MUCH and brand is not None:
        limit, has = brand.money(limit), brand.money(has)
    return text(
        lang,
        _BORROW_REFUSAL_KEYS[result.refusal],
        category=result.category or "",
        limit=limit,
        has=has,
    )


def borrow_receipt(lang: str, result: BorrowResult, label: str, zone: str) -> list[ReceiptLine]:
    if result.outcome not in (BorrowOutcome.OPENED, BorrowOutcome.DOOR_FAILED):
        return []
    return [ReceiptLine(label, due_date(lang, result.due, zone))]


_DAYUSE_KEYS: dict[DayUseOutcome, str] = {
    DayUseOutcome.RESERVED: "dayuse_reserved",
    DayUseOutcome.OPENED: "dayuse_opened",
    DayUseOutcome.FINISHED: "dayuse_finished",
    DayUseOutcome.NONE_FREE: "dayuse_none_free",
    DayUseOutcome.OVER_LIMIT: "dayuse_over_limit",
    DayUseOutcome.DENIED: "outcome_denied_card",
    DayUseOutcome.BLOCKED: "dayuse_blocked",
    DayUseOutcome.LOCKED_OUT: "outcome_locked_out_plain",
    DayUseOutcome.ILS_UNAVAILABLE: "outcome_ils_unavailable",
    DayUseOutcome.NOT_OFFERED: "dayuse_not_offered",
    DayUseOutcome.NO_RESERVATION: "dayuse_no_reservation",
    DayUseOutcome.DOOR_FAILED: "dayuse_door_failed",
}

# The day-use results after which a door of the patron's is open.
DAYUSE_GRANTED = frozenset({DayUseOutcome.RESERVED, DayUseOutcome.OPENED, DayUseOutcome.FINISHED})

_NEWCODE_KEYS: dict[ReissueOutcome, str] = {
    ReissueOutcome.ISSUED: "newcode_issued",
    ReissueOutcome.NOTHING_WAITING: "outcome_nothing_waiting",
    ReissueOutcome.TOO_MANY: "newcode_too_many",
    ReissueOutcome.DENIED: "outcome_denied_card",
    ReissueOutcome.LOCKED_OUT: "outcome_locked_out_plain",
    ReissueOutcome.ILS_UNAVAILABLE: "outcome_ils_unavailable",
    ReissueOutcome.RESEND_ANSWERED: "newcode_resent",
    # A staff member's limit: a patron never meets it, and gets the patron's words if one did.
    ReissueOutcome.STAFF_TOO_MANY: "newcode_too_many",
}

_READER_KEYS: dict[ReaderOutcome, str] = {
    ReaderOutcome.OPENED: "outcome_opened",
    ReaderOutcome.NEEDS_PIN: "reader_pin_help",
    ReaderOutcome.UNKNOWN_CARD: "reader_unknown_card",
    ReaderOutcome.UNKNOWN_CREDENTIAL: "reader_unknown_credential",
    ReaderOutcome.BLOCKED: "outcome_blocked",
    ReaderOutcome.DENIED: "reader_denied",
    ReaderOutcome.REFUSED: "reader_refused",
    ReaderOutcome.LOCKED_OUT: "outcome_locked_out_plain",
    ReaderOutcome.ILS_UNAVAILABLE: "outcome_ils_unavailable",
}

_PHONE_KEYS: dict[PhoneOutcome, str] = {
    PhoneOutcome.OPENED: "outcome_opened",  # "outcome_opened_offline" when lent offline
    PhoneOutcome.PICKUP_REFUSED: "phone_refused",  # "phone_fee" when a charge waits
    PhoneOutcome.LINK_REFUSED: "phone_link_unknown",  # by the link's state, see _LINK_KEYS
    PhoneOutcome.NOT_HERE: "phone_not_here",  # "phone_number_other_bank" for another bank's
    PhoneOutcome.LOCKED_OUT: "phone_locked_out",
}

_LINK_KEYS: dict[LinkState, str] = {
    LinkState.LIVE: "phone_ready",
    LinkState.USED: "phone_link_used",
    LinkState.EXPIRED: "phone_link_expired",
    LinkState.REVOKED: "phone_link_revoked",
    LinkState.UNKNOWN: "phone_link_unknown",
}

# Every outcome a patron can meet, with its catalogue key (tests/web/test_outcome_words.py
# checks that each has words in every language).
OUTCOME_KEYS: Mapping[type[Enum], Mapping[Any, str]] = {
    PickupOutcome: _PICKUP_KEYS,
    RefusalKind: _REFUSAL_KEYS,
    BorrowOutcome: _BORROW_KEYS,
    BorrowRefusal: _BORROW_REFUSAL_KEYS,
    DayUseOutcome: _DAYUSE_KEYS,
    ReissueOutcome: _NEWCODE_KEYS,
    ReaderOutcome: _READER_KEYS,
    PhoneOutcome: _PHONE_KEYS,
    LinkState: _LINK_KEYS,
}


def dayuse_words(
    lang: str, brand: Brand, result: DayUseResult, zone: str, dayuse: DayUseSettings
) -> str:
    """A day-use result, the same at the kiosk and on the phone."""
    return say(
        lang,
        _DAYUSE_KEYS[result.outcome],
        brand,
        door=result.compartment or "",
        until=_until(result.ends_at, zone) or "",
        max_hours=dayuse.max_hours,
        per_patron=dayuse.per_patron,
    )


def newcode_words(lang: str, brand: Brand, outcome: ReissueOutcome) -> str:
    """A new-code result, the same at the kiosk and on the phone."""
    return say(lang, _NEWCODE_KEYS[outcome], brand)


def link_words(lang: str, brand: Brand, state: LinkState) -> str:
    """Why a phone link does not open anything (or, when live, what it is for)."""
    return say(lang, _LINK_KEYS[state], brand)


def phone_words(lang: str, brand: Brand, result: PhoneResult) -> str:
    """A pickup from the phone page, in the patron's words."""
    key = _PHONE_KEYS[result.outcome]
    if result.outcome is PhoneOutcome.OPENED and result.offline:
        key = "outcome_opened_offline"
    elif result.outcome is PhoneOutcome.PICKUP_REFUSED and result.fee_to_acknowledge:
        key = "phone_fee"
    elif result.outcome is PhoneOutcome.LINK_REFUSED:
        key = _LINK_KEYS[result.link or LinkState.UNKNOWN]
    elif result.outcome is PhoneOutcome.NOT_HERE and result.other_bank:
        key = "phone_number_other_bank"
    return say(
        lang,
        key,
        brand,
        doors=", ".join(str(n) for n in result.opened),
        other=result.other_bank or "",
        bank=result.bank or "",
    )


def reader_words(lang: str, brand: Brand, result: ReaderResult) -> str:
    """What the kiosk says after a card read (and the PIN typed after it)."""
    return say(
        lang,
        _READER_KEYS[result.outcome],
        brand,
        doors=", ".join(str(n) for n in result.opened),
    )
