"""Tables of the pickup side: what is inside the doors, access codes, items on their way to a
bank, and lendable equipment.

The ``lockers`` package decides; these rows only remember. ``bridge.services.banks`` maps them
to and from the domain objects (``lockers.bank.Bank``, ``lockers.access.AccessGrant``).

Personal data: ``LoadRow.patron`` (the patron's card number) and ``LoadRow.title`` are kept
only while the item waits or until ``purge_after`` (the retention setting after the pickup is
confirmed); everything else refers to patrons by a keyed-hash pseudonym.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class LoadRow(Base):
    """One item in (or on its way into) a compartment.

    ``state``: ``reserved`` (door opened for loading, not closed yet) → ``loaded`` (door closed,
    patron told) → ``picked_up`` (checked out, door opened for the patron). The row is deleted
    when the compartment is free again; the audit log keeps a pseudonymised trace.
    ``kind``: ``hold`` (a patron's hold or transfer) or ``equipment`` (lendable stock).
    """

    __tablename__ = "locker_load"
    __table_args__ = (
        Index("ix_locker_load_bank_compartment", "bank_id", "compartment"),
        Index("ix_locker_load_bank_patron", "bank_id", "patron_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(63))
    compartment: Mapped[int]
    item_barcode: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16), default="hold")
    state: Mapped[str] = mapped_column(String(16), default="reserved")
    patron: Mapped[str | None] = mapped_column(String(64))  # card number: personal data
    # The hold patron's name as the ILS sent it, for staff searching; cleared with ``patron``.
    patron_name: Mapped[str | None] = mapped_column(String(120))
    patron_ref: Mapped[str] = mapped_column(String(64))  # pseudonym (keyed hash)
    in_transit: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    picked_up_at: Mapped[datetime | None]
    purge_after: Mapped[datetime | None]
    loaded_by: Mapped[str | None] = mapped_column(String(120))


class AccessGrantRow(Base):
    """``lockers.access.AccessGrant`` as stored: keyed hashes only, never a code or token."""

    __tablename__ = "access_grant"

    grant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(63), index=True)
    patron_ref: Mapped[str] = mapped_column(String(64), index=True)
    compartments: Mapped[list[int]] = mapped_column(JSON, default=list)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    qr_hash: Mapped[str] = mapped_column(String(64), index=True)
    card_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class TransitRow(Base):
    """An item the ILS sent towards a bank's pickup location; holds capacity there."""

    __tablename__ = "item_in_transit"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_barcode: Mapped[str] = mapped_column(String(64), unique=True)
    bank_id: Mapped[str] = mapped_column(String(63), index=True)
    destination: Mapped[str] = mapped_column(String(63))  # the ILS location code
    size: Mapped[str] = mapped_column(String(4), default="S")
    announced_at: Mapped[datetime] = mapped_column(default=utcnow)
    announced_by: Mapped[str | None] = mapped_column(String(120))
    checked_in_at: Mapped[str | None] = mapped_column(String(63))  # where it was scanned


class EquipmentRow(Base):
    """A lendable piece of equipment kept in an equipment compartment.

    ``state``: ``stocking`` (door open for staff) → ``available`` → ``on_loan`` → back to
    ``available`` when returned and checked in (or ``withdrawn`` by staff).
    """

    __tablename__ = "equipment_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_barcode: Mapped[str] = mapped_column(String(64), unique=True)
    bank_id: Mapped[str] = mapped_column(String(63), index=True)
    compartment: Mapped[int | None]
    category: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="stocking")
    borrower_ref: Mapped[str | None] = mapped_column(String(64))  # pseudonym while on loan
    stocked_at: Mapped[datetime] = mapped_column(default=utcnow)
    stocked_by: Mapped[str | None] = mapped_column(String(120))
    lent_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
