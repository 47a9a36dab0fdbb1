"""Service results in the patron's language.

The pickup and equipment services word their results in English (for logs, staff and the
JSON API). The kiosk speaks the patron's language, so it maps each *kind* of result (the
outcome enums, and what a refusal is about) to its own catalogue text in
:mod:`bridge.web.kiosk_text`, and shows the service's English only for a kind it does not
know yet: a new outcome then still says something true instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bridge.services.equipment import BorrowOutcome, BorrowResult
from bridge.services.pickup import ILS_DOWN, PickupOutcome, PickupResult, Refusal
from bridge.web.kiosk_text import has_text, text

# Pickup outcomes whose catalogue text names the opened doors.
_PICKUP_KEYS: dict[PickupOutcome, str] = {o: f"outcome_{o.value}" for o in PickupOutcome}
_BORROW_KEYS: dict[BorrowOutcome, str] = {
    BorrowOutcome.OPENED: "borrow_opened",
    BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT: "borrow_fee",
    BorrowOutcome.REFUSED: "borrow_refused",
    BorrowOutcome.NONE_AVAILABLE: "borrow_none_available",
    BorrowOutcome.DENIED: "outcome_denied",
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


def _until(at: datetime | None, zone: str) -> str | None:
    if at is None:
        return None
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def pickup_headline(lang: str, result: PickupResult, zone: str) -> str:
    key = _PICKUP_KEYS.get(result.outcome)
    if key is None or not has_text(key):
        return result.message  # an outcome this kiosk does not know yet
    if result.outcome is PickupOutcome.LOCKED_OUT:
        until = _until(result.locked_until, zone)
        if until is None:
            return text(lang, "outcome_locked_out_plain")
        return text(lang, key, until=until)
    return text(lang, key, doors=", ".join(str(n) for n in result.opened))


def refusal_kind(refusal: Refusal) -> str:
    """What a refusal is about: ``fee``, ``ils_unavailable``, ``ils_refused`` (the ILS said no).

    The pickup service marks fees with ``fee`` and an unanswering ILS with its ``ILS_DOWN``
    sentence; every other refusal comes from the ILS's answer to the checkout. A ``kind``
    attribute, should the service add one, wins.
    """
    kind = getattr(refusal, "kind", None)
    if kind is not None:
        return str(getattr(kind, "value", kind))
    if refusal.fee:
        return "fee"
    if refusal.reason == ILS_DOWN:
        return "ils_unavailable"
    return "ils_refused"


def refusal_line(lang: str, refusal: Refusal) -> RefusedLine:
    what = refusal.title or refusal.item
    key = f"refusal_{refusal_kind(refusal)}"
    if lang == "en" or not has_text(key):
        # The service's own English is the most precise (it carries the ILS's message).
        return RefusedLine(what, refusal.reason, refusal.fee)
    return RefusedLine(what, text(lang, key, fee=refusal.fee or ""), refusal.fee)


def borrow_headline(lang: str, result: BorrowResult, zone: str) -> str:
    key = _BORROW_KEYS.get(result.outcome)
    if key is None or not has_text(key):
        return result.message
    if result.outcome is BorrowOutcome.LOCKED_OUT:
        until = _until(result.locked_until, zone)
        if until is None:
            return text(lang, "outcome_locked_out_plain")
        return text(lang, key, until=until)
    return text(lang, key, door=result.compartment or "", fee=result.fee or "")


def borrow_detail(lang: str, result: BorrowResult) -> str | None:
    """The reason behind a refusal: the service's English words on the English kiosk (they
    name the rule or the ILS's message); other languages get the translated headline only."""
    if result.outcome is BorrowOutcome.REFUSED and lang == "en":
        return result.message
    return None
