"""Transfers: items the ILS sends towards a locker bank's pickup location.

``settings.routing`` maps ILS branch / pickup location codes to banks (each bank's own
``branch`` maps to it too). When a check-in anywhere answers "goes to X" (SIP2 CT) and X is a
bank's location, the item is recorded as in transit to that bank (:func:`announce`): the bank
holds a free compartment of the item's size back for it (``lockers.bank.Bank.transit_reserve``),
and when staff scan it there it loads like any hold (``bridge.services.loading.scan_item``),
which clears the record.

:func:`check_in_elsewhere` is the staff-desk version: an item checked in at a branch that is
not a bank, e.g. the central sorting desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import TransitRow
from ils_adapters.base import CheckinKind, CheckinOutcome, IlsError

SIZES = ("S", "M", "L", "XL")


def bank_for_location(rt: Runtime, location: str | None) -> str | None:
    """The bank serving an ILS location code (routing rules first, then bank branches)."""
    if not location:
        return None
    wanted = location.strip().upper()
    for rule in rt.settings.routing:
        if rule.location.strip().upper() == wanted:
            return rule.bank
    for bank in rt.settings.banks:
        if bank.branch.strip().upper() == wanted:
            return bank.id
    return None


def announce(
    s: Session,
    *,
    item: str,
    bank_id: str,
    destination: str,
    size: str,
    at: datetime,
    actor: str,
    scanned_at: str | None = None,
) -> None:
    """Records (or refreshes) that ``item`` travels to ``bank_id``; audited."""
    row = s.scalars(select(TransitRow).where(TransitRow.item_barcode == item)).one_or_none()
    if row is None:
        row = TransitRow(item_barcode=item)
        s.add(row)
    row.bank_id, row.destination, row.size = bank_id, destination, size
    row.announced_at, row.announced_by, row.checked_in_at = at, actor, scanned_at
    audit(
        s,
        "item_in_transit",
        at=at,
        bank_id=bank_id,
        actor=actor,
        item=item,
        destination=destination,
        size=size,
        scanned_at=scanned_at,
    )


def arrived(s: Session, item: str) -> None:
    s.execute(delete(TransitRow).where(TransitRow.item_barcode == item))


def expected_size(s: Session, item: str) -> str | None:
    return s.scalars(select(TransitRow.size).where(TransitRow.item_barcode == item)).first()


def travels_to(outcome: CheckinOutcome) -> str | None:
    """Where the check-in says the item must go, if it must travel."""
    if outcome.kind in (CheckinKind.HOLD_ELSEWHERE, CheckinKind.TRANSIT):
        return outcome.destination
    return None


@dataclass(frozen=True)
class DeskCheckin:
    """What staff at a desk should do with the item they just checked in."""

    item: str
    kind: str  # a CheckinKind value, or "ils_unavailable"
    destination: str | None  # where it travels (None: route it as usual from ``branch``)
    bank_id: str | None  # the locker bank it travels to, if it is one
    ils_error: str | None = None  # ils_unavailable: what went wrong (an exception's name)


def check_in_elsewhere(
    rt: Runtime, *, adapter_bank: str, branch: str, item: str, actor: str, size: str = "S"
) -> DeskCheckin:
    """Checks ``item`` in at ``branch`` (through ``adapter_bank``'s ILS login) and, when it is
    bound for a locker bank, marks it in transit there. Never raises for ILS trouble."""

    size = size if size in SIZES else "S"
    now = rt.clock()
    try:
        outcome = adapter_for(rt, adapter_bank).checkin(item, at=branch, returned_at=now)
    except IlsError as exc:
        return DeskCheckin(item, "ils_unavailable", None, None, type(exc).__name__)
    destination = travels_to(outcome)
    target = bank_for_location(rt, destination)
    if target is None:
        return DeskCheckin(item, outcome.kind.value, destination, None)
    with unit_of_work(rt.sessions) as s:
        announce(
            s,
            item=item,
            bank_id=target,
            destination=destination or "",
            size=size,
            at=now,
            actor=actor,
            scanned_at=branch,
        )
    return DeskCheckin(item, outcome.kind.value, destination, target)
