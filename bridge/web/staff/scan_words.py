"""A loading scan's outcome in words for the member of staff at the bank (English: the staff
pages speak it). The loading screen shows it under its headline; the API answers it as the
scan's ``message``."""

from __future__ import annotations

from bridge.config import Settings
from bridge.services.loading import ScanOutcome, ScanReason, ScanResult

HOLD_SHELF = "The hold is captured: put the item on the hold shelf. Staff have been told."

SCAN_WORDS: dict[ScanOutcome, str] = {
    ScanOutcome.DOOR_OPEN: "Put the item in compartment {door} and close the door{moved}.",
    ScanOutcome.SEND_ELSEWHERE: "Not for this bank: send it to {where}.",
    ScanOutcome.NO_HOLD: "No hold waits for this item here. It is checked in; reshelve it.",
    ScanOutcome.UNKNOWN_ITEM: "The catalogue does not know this barcode. Check the label.",
    ScanOutcome.ALREADY_LOADED: "This item is already in compartment {door} ({at}); nothing "
    "was changed.",
    ScanOutcome.CHECKED_OUT: "This item is on loan to a patron. Check it in at the desk first; "
    "it was not loaded.",
    ScanOutcome.BANK_FULL: "The hold is captured but no compartment fits: {why_not}.",
    ScanOutcome.DOOR_FAILED: "{why_not}. " + HOLD_SHELF,
    ScanOutcome.ILS_UNAVAILABLE: "The catalogue is not answering. Scan the item again in a "
    "minute, or put it on the hold shelf.",
    ScanOutcome.NEEDS_STAFF: "The catalogue answered something the locker cannot act on"
    "{said}. Put the item on the hold shelf.",
    ScanOutcome.CONFIRM_CHECKIN: "The catalogue knows no hold for this item, so it was not "
    "checked in. Put it back on the shelf, or check it in here if you mean to.",
}

REASON_WORDS: dict[ScanReason, str] = {
    ScanReason.ILS_REJECTED: "The catalogue refused the check-in{said}",
    ScanReason.NO_HOLD_PATRON: "The hold was captured, but the catalogue did not say whose it "
    "is; put the item on the hold shelf.",
    ScanReason.UNEXPECTED_ANSWER: SCAN_WORDS[ScanOutcome.NEEDS_STAFF],
    ScanReason.CONTROLLER_OFFLINE: "The locker controller is not answering",
    ScanReason.NO_DOOR_OPENED: "No compartment door could be opened",
}


def _bank_name(settings: Settings, bank_id: str) -> str:
    try:
        return settings.bank(bank_id).name
    except KeyError:
        return bank_id


def scan_message(settings: Settings, result: ScanResult) -> str:
    """What staff read under the scan's headline."""
    said = f": {result.ils_says}" if result.ils_says else ""
    outcome = result.outcome
    if outcome is ScanOutcome.NEEDS_STAFF and result.reason is not None:
        return REASON_WORDS[result.reason].format(said=said)
    if outcome is ScanOutcome.DOOR_FAILED:
        why = result.why_not or REASON_WORDS[result.reason or ScanReason.NO_DOOR_OPENED]
        return SCAN_WORDS[outcome].format(why_not=why)
    where = result.destination or "another branch"
    if outcome is ScanOutcome.SEND_ELSEWHERE and result.destination_bank:
        where = f"the locker bank {_bank_name(settings, result.destination_bank)} ({where})"
    at = _bank_name(settings, result.already_at_bank) if result.already_at_bank else "here"
    moved = f" (door {result.moved_from} did not open)" if result.moved_from else ""
    return SCAN_WORDS[outcome].format(
        door=result.compartment,
        moved=moved,
        where=where,
        at=at,
        why_not=result.why_not or "no door fits",
        said=said,
    )
