"""Returns in words for staff (English: the staff pages speak it): why a deposit needs a
person (:class:`bridge.services.returns.findings.StaffReason`, on the work list) and what to do
with an item taken out of a return door (:class:`bridge.services.emptying.NextStep`)."""

from __future__ import annotations

from typing import Any

from bridge.config import Settings
from bridge.services.emptying import ASIDE, LOAD_HERE, SHELVE, TRANSIT, NextStep
from bridge.services.returns.findings import StaffReason

REASON_WORDS: dict[StaffReason, str] = {
    StaffReason.UNKNOWN_ITEM: "The catalogue does not know this barcode.",
    StaffReason.CHANGED_HANDS: "The item was lent again after it was deposited.",
    StaffReason.NOT_ON_LOAN: "The item was already checked in elsewhere after the deposit.",
    StaffReason.HOLD_HERE: "A hold is waiting here: load it into a pickup compartment.",
    StaffReason.TRANSIT: "Send the item to {destination}.",
    StaffReason.REJECTED: "The catalogue refused the check-in: {message}",
    StaffReason.ILS_ALERT: "The catalogue raised an alert: {message}",
}

STEP_WORDS: dict[str, str] = {
    LOAD_HERE: "A patron's hold here: load it into this bank now.",
    TRANSIT: "Put a transit slip in it and send it to {where}.",
    SHELVE: "Checked in, no hold: shelve it here.",
    ASIDE: "Keep it aside: {why}",
}
NOT_CHECKED_IN = "The catalogue has not checked it in yet: keep it aside for now."


def explain(reason: str | None, destination: str | None, message: str | None) -> str:
    """Why a deposit waits for staff."""
    try:
        words = REASON_WORDS[StaffReason(reason or "")]
    except ValueError:
        return reason or ""
    return words.format(destination=destination or "its home branch", message=message or "-")


def explain_entry(entry: Any) -> str:
    """A work-list entry's reason (``returns.worklist.NeedsStaff``), for the template."""
    return explain(entry.reason, entry.destination, entry.screen_message)


def destination_name(settings: Settings, code: str | None) -> str:
    """Where a transit slip sends an item: the bank's name with the location code."""
    if not code:
        return "its home library"
    for bank in settings.banks:
        if bank.branch == code:
            return f"{bank.name} ({code})"
    for rule in settings.routing:
        if rule.location == code:
            try:
                return f"{settings.bank(rule.bank).name} ({code})"
            except KeyError:
                break
    return code


def next_words(settings: Settings, step: NextStep) -> str:
    """What to do with an item taken out of a return door."""
    if step.step == ASIDE and step.reason is None:
        return NOT_CHECKED_IN
    return STEP_WORDS[step.step].format(
        where=destination_name(settings, step.destination),
        why=explain(step.reason, step.destination, step.screen_message),
    )
