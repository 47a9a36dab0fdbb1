"""The bridge between stored rows and the ``lockers`` domain, shared by every pickup flow.

A use case locks the bank (:func:`lock_bank`), builds the domain ``Bank`` from the rows
(:func:`load_bank`), lets the domain decide, then writes the compartments back
(:func:`save_compartments`) and the audit events (:func:`audit_events`), all in one
transaction. Patron card numbers never reach the audit log: :func:`pseudonym` is a keyed hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.storage.tables.core import AuditEventRow, BankRow, CompartmentRow
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow, TransitRow
from lockers.access import AccessCodes, AccessGrant, CodeHasher
from lockers.bank import Bank
from lockers.events import Discrepancy, DoorFailed, DoorLeftOpen, LockerEvent, StateChanged
from lockers.model import Compartment, Content, Dimensions, Item, Purpose, Reservation, SizeClass
from lockers.ports import SystemRandom
from lockers.states import CompartmentState

ACTIVE_LOAD_STATES = ("reserved", "loaded", "picked_up", "expired")


# --- keys and pseudonyms ------------------------------------------------------------------


def hashers(rt: Runtime) -> list[CodeHasher]:
    """One hasher per configured code key; the first signs new codes, all verify (rotation)."""
    return [CodeHasher(k.encode()) for k in rt.settings.security.code_keys]


def pseudonym(rt: Runtime, card: str) -> str:
    """A stable keyed hash of a card number: links a patron's rows without storing the card."""
    return hashers(rt)[0].digest("patron", "*", card.strip())[:40]


# --- locking ------------------------------------------------------------------------------


class UnknownBank(LookupError):
    """No bank with this id is configured (or it was never synced)."""


def lock_bank(session: Session, bank_id: str) -> None:
    """Serialises use cases on one bank for the rest of the transaction.

    A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so two
    kiosks cannot allocate the same free door. Raises UnknownBank.
    """
    result = session.execute(update(BankRow).where(BankRow.id == bank_id).values(name=BankRow.name))
    if getattr(result, "rowcount", 0) != 1:
        raise UnknownBank(bank_id)


# --- rows <-> domain ----------------------------------------------------------------------


def to_compartment(row: CompartmentRow) -> Compartment:
    inner = None
    if row.width_mm and row.height_mm and row.depth_mm:
        inner = Dimensions(row.width_mm, row.height_mm, row.depth_mm)
    before = CompartmentState(row.state_before_fault) if row.state_before_fault else None
    return Compartment(
        bank_id=row.bank_id,
        number=row.number,
        size=SizeClass[row.size],
        purpose=Purpose(row.purpose),
        height_cm=row.height_cm,
        inner=inner,
        has_charger=row.charger,
        state=CompartmentState(row.state),
        state_before_out_of_service=before,
        capacity=row.capacity,
        deposits=row.deposits,
    )


def to_item(load: LoadRow) -> Item:
    return Item(
        barcode=load.item_barcode,
        patron_ref=load.patron_ref,
        size=SizeClass[load.size],
        in_transit=load.in_transit,
        needs_charger=load.kind == "equipment",
    )


@dataclass
class BankState:
    """A bank as the domain sees it, plus the rows it was built from (to write back)."""

    bank: Bank
    rows: dict[int, CompartmentRow]
    loads: list[LoadRow]

    def loads_in(self, number: int) -> list[LoadRow]:
        return [ld for ld in self.loads if ld.compartment == number]


def load_bank(session: Session, bank_id: str) -> BankState:
    """Builds the domain bank from its rows. Raises UnknownBank."""
    rows = {
        r.number: r
        for r in session.scalars(select(CompartmentRow).where(CompartmentRow.bank_id == bank_id))
    }
    if not rows:
        raise UnknownBank(bank_id)
    loads = list(
        session.scalars(
            select(LoadRow)
            .where(
                LoadRow.bank_id == bank_id,
                LoadRow.state.in_(ACTIVE_LOAD_STATES),
                LoadRow.kind != "deposit",  # a return door's pending scan, not contents
            )
            .order_by(LoadRow.id)
        )
    )
    contents = [Content(ld.compartment, to_item(ld)) for ld in loads]
    reservations: dict[int, Reservation] = {}
    for ld in loads:
        r = reservations.get(ld.compartment)
        barcodes = (r.item_barcodes if r else ()) + (ld.item_barcode,)
        reservations[ld.compartment] = Reservation(
            bank_id=bank_id,
            compartment=ld.compartment,
            patron_ref=ld.patron_ref,
            item_barcodes=barcodes,
            created_at=r.created_at if r else ld.created_at,
            expires_at=ld.expires_at,
        )
    transit = {
        t.item_barcode: SizeClass[t.size]
        for t in session.scalars(select(TransitRow).where(TransitRow.bank_id == bank_id))
    }
    bank = Bank(
        bank_id,
        (to_compartment(r) for r in rows.values()),
        contents=contents,
        reservations=reservations.values(),
        in_transit=transit,
    )
    return BankState(bank=bank, rows=rows, loads=loads)


def save_compartments(state: BankState, at: datetime) -> None:
    """Writes each compartment's domain state back to its row where it changed."""
    for compartment in state.bank.compartments():
        row = state.rows[compartment.number]
        if row.deposits != compartment.deposits:
            row.deposits = compartment.deposits
        if row.purpose != compartment.purpose.value:  # an empty door's purpose changed
            row.purpose = compartment.purpose.value
        if row.state != compartment.state.value:
            row.state = compartment.state.value
            row.state_since = at
            if compartment.state is CompartmentState.OUT_OF_SERVICE:
                before = compartment.state_before_out_of_service
                row.state_before_fault = before.value if before else None
            else:
                row.state_before_fault = None


def put_out_of_service(
    session: Session,
    state: BankState,
    number: int,
    *,
    fault: str,
    kind: str,
    at: datetime,
    actor: str,
    **detail: Any,
) -> None:
    """Takes one door out of service through the domain bank (unless it is already), records
    ``fault`` on its row and audits ``kind``; :func:`save_compartments` writes the state."""
    if state.bank.compartment(number).state is not CompartmentState.OUT_OF_SERVICE:
        state.bank.transition(
            number, CompartmentState.OUT_OF_SERVICE, at=at, actor=actor, reason=fault
        )
    state.rows[number].fault = fault
    audit(
        session, kind, at=at, bank_id=state.bank.bank_id, compartment=number, actor=actor, **detail
    )


# --- audit --------------------------------------------------------------------------------


def audit(
    session: Session,
    kind: str,
    *,
    at: datetime,
    bank_id: str | None = None,
    compartment: int | None = None,
    actor: str = "system",
    subject: str | None = None,
    item: str | None = None,
    **detail: Any,
) -> None:
    """One audit event. ``subject`` must be a pseudonym, never a card number."""
    session.add(
        AuditEventRow(
            at=at,
            kind=kind,
            bank_id=bank_id,
            compartment=compartment,
            actor=actor[:120],
            subject=subject,
            item=item,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )


def audit_events(session: Session, events: Iterable[LockerEvent], *, actor: str) -> None:
    """Stores the domain's events (state changes and safety alerts) in the audit log."""
    for ev in events:
        if isinstance(ev, StateChanged):
            audit(
                session,
                f"{ev.what}_state",
                at=ev.at,
                bank_id=ev.bank_id,
                compartment=ev.compartment,
                actor=ev.actor or actor,
                **{"from": ev.from_state, "to": ev.to_state, "reason": ev.reason},
            )
        elif isinstance(ev, DoorFailed):
            audit(
                session,
                "door_failed",
                at=ev.at,
                bank_id=ev.bank_id,
                compartment=ev.compartment,
                actor=actor,
                failures=ev.failures,
            )
        elif isinstance(ev, DoorLeftOpen):
            audit(
                session,
                "door_left_open",
                at=ev.at,
                bank_id=ev.bank_id,
                compartment=ev.compartment,
                actor=actor,
                opened_at=ev.opened_at.isoformat(),
            )
        elif isinstance(ev, Discrepancy):
            audit(
                session,
                "occupancy_discrepancy",
                at=ev.at,
                bank_id=ev.bank_id,
                compartment=ev.compartment,
                actor=actor,
                state=ev.state,
                expected=ev.expected_occupied,
                reported=ev.reported_occupied,
            )


# --- access grants (lockers.access.GrantStore over SQL) -----------------------------------


def _grant(row: AccessGrantRow) -> AccessGrant:
    return AccessGrant(
        grant_id=row.grant_id,
        bank_id=row.bank_id,
        patron_ref=row.patron_ref,
        compartments=tuple(row.compartments or ()),
        code_hash=row.code_hash,
        qr_hash=row.qr_hash,
        card_hash=row.card_hash,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
    )


class SqlGrantStore:
    """``lockers.access.GrantStore`` on the ``access_grant`` table, inside one session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, grant: AccessGrant) -> None:
        self._s.add(
            AccessGrantRow(
                grant_id=grant.grant_id,
                bank_id=grant.bank_id,
                patron_ref=grant.patron_ref,
                compartments=list(grant.compartments),
                code_hash=grant.code_hash,
                qr_hash=grant.qr_hash,
                card_hash=grant.card_hash,
                issued_at=grant.issued_at,
                expires_at=grant.expires_at,
                used_at=grant.used_at,
                revoked_at=grant.revoked_at,
            )
        )
        self._s.flush()

    def replace(self, grant: AccessGrant) -> None:
        row = self._s.get(AccessGrantRow, grant.grant_id)
        if row is None:
            self.add(grant)
            return
        row.compartments = list(grant.compartments)
        row.expires_at = grant.expires_at
        row.used_at, row.revoked_at = grant.used_at, grant.revoked_at

    def live_grants(self, bank_id: str, now: datetime) -> Iterator[AccessGrant]:
        rows = self._s.scalars(
            select(AccessGrantRow).where(
                AccessGrantRow.bank_id == bank_id,
                AccessGrantRow.used_at.is_(None),
                AccessGrantRow.revoked_at.is_(None),
                AccessGrantRow.expires_at > now,
            )
        )
        return (_grant(r) for r in rows)

    def find(
        self,
        bank_id: str,
        *,
        code_hash: str | None = None,
        qr_hash: str | None = None,
        card_hash: str | None = None,
    ) -> list[AccessGrant]:
        q = select(AccessGrantRow).where(AccessGrantRow.bank_id == bank_id)
        if code_hash is not None:
            q = q.where(AccessGrantRow.code_hash == code_hash)
        if qr_hash is not None:
            q = q.where(AccessGrantRow.qr_hash == qr_hash)
        if card_hash is not None:
            q = q.where(AccessGrantRow.card_hash == card_hash)
        return [_grant(r) for r in self._s.scalars(q)]

    def of_patron(self, bank_id: str, patron_ref: str, now: datetime) -> list[AccessGrant]:
        return [
            g
            for g in (
                _grant(r)
                for r in self._s.scalars(
                    select(AccessGrantRow).where(
                        AccessGrantRow.bank_id == bank_id, AccessGrantRow.patron_ref == patron_ref
                    )
                )
            )
            if g.is_live(now)
        ]


def access_codes(rt: Runtime, session: Session) -> AccessCodes:
    """Issues with the first code key (``security.code_keys[0]``)."""
    return AccessCodes(SqlGrantStore(session), hashers(rt)[0], SystemRandom())
