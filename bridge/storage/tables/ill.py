"""Inter-library loans announced to us over NCIP (AcceptItem), until their partner is told the
item came back (CheckInItem).

Personal data: ``patron`` (the ILL request's user id, a library card number) and ``title`` are
kept while the loan is open and cleared when it closes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class IllRequestRow(Base):
    """One ILL item coming to a locker bank.

    ``state``: ``forwarding`` (being passed to the ILS over NCIP; its outcome may be unknown)
    → ``accepted`` (the ILS knows the item; capacity held at the bank; loads, waits and is lent
    like any hold) → ``returned`` (checked in after a locker return; CheckInItem to the partner
    is queued) → ``closed`` (the partner was told). ``cancelled``: the partner checked the item
    in itself (its CheckInItem) before it came back through us.
    """

    __tablename__ = "ill_request"
    # A RequestId is the partner's own number: two partners may use the same one.
    __table_args__ = (UniqueConstraint("partner", "request_agency", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(120))  # RequestIdentifierValue
    request_agency: Mapped[str] = mapped_column(String(120), default="")  # "" when not given
    # The authenticated partner (who is told on return); part of every lookup of a request.
    partner: Mapped[str] = mapped_column(String(120), index=True)
    to_agency: Mapped[str | None] = mapped_column(String(120))  # how the partner names us
    bank_id: Mapped[str] = mapped_column(String(63), index=True)
    pickup_location: Mapped[str] = mapped_column(String(63))
    item: Mapped[str] = mapped_column(String(64))  # the partner's item id
    item_agency: Mapped[str | None] = mapped_column(String(120))
    ils_item: Mapped[str] = mapped_column(String(64), index=True)  # the barcode staff scan
    patron: Mapped[str | None] = mapped_column(String(64))  # personal data, see above
    title: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)  # forwards to the ILS
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    pickup_expiry: Mapped[datetime | None]
    date_for_return: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
