"""Deposits: items put into a return compartment, and how their check-in went."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class DepositRow(Base):
    """One deposit, written when the door closes and before anything else happens.

    ``depositor`` is the patron↔item link (personal data): kept only until the ILS confirms
    the return (or staff resolve the deposit), then cleared; the retention job is the backstop.
    ``checkin_sent`` is set *before* a checkin goes to the ILS and cleared only when the ILS
    is known not to have acted, so a retry after a crash or a lost reply verifies with item
    status first instead of checking the item in twice.
    """

    __tablename__ = "deposit"
    __table_args__ = (
        UniqueConstraint("bank_id", "event_id"),
        Index("ix_deposit_state", "state", "deposited_at"),
        # A bank's open deposits (overview, one bank's work list) among a year of checked-in
        # ones: by bank and state, not every deposit the bank ever had.
        Index("ix_deposit_bank_state", "bank_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(63))
    compartment: Mapped[int]
    item_barcode: Mapped[str] = mapped_column(String(64), index=True)
    deposited_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    event_id: Mapped[str | None] = mapped_column(String(120))  # the controller's, per bank
    depositor: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24), default="recorded")
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    checkin_sent: Mapped[bool] = mapped_column(default=False)
    # What the ILS said, and what staff must do about it.
    outcome: Mapped[str | None] = mapped_column(String(32))  # ils_adapters CheckinKind value
    reason: Mapped[str | None] = mapped_column(String(32))  # why it needs staff
    destination: Mapped[str | None] = mapped_column(String(63))
    suggestion: Mapped[str | None] = mapped_column(String(32))  # e.g. "load_for_pickup"
    screen_message: Mapped[str | None] = mapped_column(String(300))
    ils_confirmed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
