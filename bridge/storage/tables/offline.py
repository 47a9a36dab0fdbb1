"""Offline loans: pickups lent at the bank while its ILS was unreachable, to be sent later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class OfflineLoanRow(Base):
    """One checkout made at the bank without the ILS, written in the pickup's own transaction
    (with the door and load state and its outbox row).

    ``state``: ``waiting`` → ``sending`` → ``recorded`` (the ILS has the loan) or ``refused``
    (the ILS said no: on the staff work list until resolved). ``id`` is the pickup order.

    ``patron`` is the card number the ILS knows the patron by (SIP2 AA): personal data, kept
    only until the ILS records the loan, or, for a refusal, until staff resolve it; the finished
    row (still pseudonym ↔ item) is deleted by the retention job
    (:mod:`bridge.services.retention`) ``retention.patron_item_link_hours`` later.
    ``checkout_sent`` is set *before* the checkout goes out, so an attempt after a crash or a
    lost reply looks the item up first instead of lending it twice.
    """

    __tablename__ = "offline_loan"
    __table_args__ = (Index("ix_offline_loan_state", "state", "bank_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(63))
    ils: Mapped[str] = mapped_column(String(63))
    compartment: Mapped[int]
    item_barcode: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    patron: Mapped[str | None] = mapped_column(String(64))  # card number: personal data
    patron_ref: Mapped[str] = mapped_column(String(64), index=True)  # pseudonym
    via: Mapped[str] = mapped_column(String(16))  # code, qr, phone
    picked_up_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    checkout_sent: Mapped[bool] = mapped_column(default=False)
    due: Mapped[datetime | None]
    screen_message: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(String(300))
    finished_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(120))
