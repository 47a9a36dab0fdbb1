"""Service results in the patron's language.

The pickup and equipment services word their results in English (for logs, staff and the
JSON API). The kiosk speaks the patron's language, so it maps each *kind* of result (the
outcome enums, and what a refusal is about) to its own catalogue text in
:mod:`bridge.web.kiosk.text`. The services' English is never shown to a patron: it can carry
an ILS's own screen message or internal words.

Every refusal says what to do next. The last resort differs by bank: at a staffed bank the
patron may ask at the desk; at a bank marked ``staffed = false`` nobody is there, so the words
name the help number instead (``{help}`` in the catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge.config import DayUseSettings
from bridge.services.access.reissue import ReissueOutcome
from bridge.services.dayuse import DayUseOutcome, DayUseResult
from bridge.services.equipment import BorrowOutcome, BorrowResult
from bridge.services.pickup import (
    DOOR_OUT_OF_ORDER,
    ILS_DOWN,
    PickupOutcome,
    PickupResult,
    Refusal,
)
from bridge.web.branding import Brand
from bridge.web.kiosk.text import has_text, text

_PICKUP_KEYS: dict[PickupOutcome, str] = {o: f"outcome_{o.value}" for o in PickupOutcome}
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
    key = _PICKUP_KEYS.get(outcome)
    if key is None or not has_text(key):
        return say(lang, "outcome_unknown", brand)  # an outcome this kiosk does not know yet
    return say(lang, key, brand, doors=", ".join(str(n) for n in result.opened))


def refusal_kind(refusal: Refusal) -> str:
    """What a refusal is about: ``fee``, ``ils_unavailable``, ``door_out_of_order`` or
    ``ils_refused`` (the library's system said no). A ``kind`` attribute, should the service
    add one, wins."""
    kind = getattr(refusal, "kind", None)
    if kind is not None:
        return str(getattr(kind, "value", kind))
    if refusal.fee:
        return "fee"
    if refusal.reason == ILS_DOWN:
        return "ils_unavailable"
    if refusal.reason == DOOR_OUT_OF_ORDER:
        return "door_out_of_order"
    return "ils_refused"


def refusal_line(lang: str, refusal: Refusal, brand: Brand) -> RefusedLine:
    what = refusal.title or refusal.item
    key = f"refusal_{refusal_kind(refusal)}"
    if not has_text(key):
        key = "refusal_ils_refused"
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
    key = _BORROW_KEYS.get(result.outcome)
    if key is None or not has_text(key):
        return say(lang, "outcome_unknown", brand)
    if result.outcome is BorrowOutcome.LOCKED_OUT:
        until = _until(result.locked_until, zone)
        if until is None:
            return say(lang, "outcome_locked_out_plain", brand)
        return say(lang, key, brand, until=until)
    if result.outcome is BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT:
        return say(lang, "fee_question", brand, fee=brand.money(result.fee or ""))
    return say(lang, key, brand, door=result.compartment or "")


def borrow_detail(lang: str, result: BorrowResult) -> str | None:
    """Nothing beyond the headline: the service's reason may carry the library system's own
    words, which are not the patron's language nor meant for a locker."""
    return None


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
}


def dayuse_words(
    lang: str, brand: Brand, result: DayUseResult, zone: str, dayuse: DayUseSettings
) -> str:
    """A day-use result, the same at the kiosk and on the phone."""
    return say(
        lang,
        _DAYUSE_KEYS.get(result.outcome, "dayuse_not_offered"),
        brand,
        door=result.compartment or "",
        until=_until(result.ends_at, zone) or "",
        max_hours=dayuse.max_hours,
        per_patron=dayuse.per_patron,
    )


def newcode_words(lang: str, brand: Brand, outcome: ReissueOutcome) -> str:
    """A new-code result, the same at the kiosk and on the phone."""
    return say(lang, _NEWCODE_KEYS.get(outcome, "outcome_denied_card"), brand)
