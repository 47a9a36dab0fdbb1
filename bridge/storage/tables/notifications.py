"""Patron notifications: one row per event message, and patrons' opt-outs per channel.

The patron's card number stays on a notification only until it is settled (sent, skipped or
failed-and-seen-by-staff); the typed code and QR token (``secrets``) only until it is sent, and
sealed meanwhile (:mod:`bridge.storage.sealed`).
Contact details (email, phone) are never stored: they are asked of the ILS at send time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow
from bridge.storage.sealed import SealedJSON


class NotificationRow(Base):
    __tablename__ = "notification"
    # One message per (kind, event): the de-duplication key the flows rely on.
    __table_args__ = (
        UniqueConstraint("kind", "event_key"),
        Index("ix_notification_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(200))
    bank_id: Mapped[str] = mapped_column(String(63))
    patron: Mapped[str | None] = mapped_column(String(64))  # card barcode until settled
    patron_key: Mapped[str | None] = mapped_column(String(64))  # keyed hash, set when sending
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Code and QR token, sealed under a key from the configuration, and only until sent.
    secrets: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON)
    # pending | sent | partial (a channel failed for good, another was sent) | failed | skipped
    state: Mapped[str] = mapped_column(String(16), default="pending")
    channels_sent: Mapped[str] = mapped_column(String(64), default="")  # "email,sms"
    language: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None]


class NotificationOptOutRow(Base):
    """A patron does not want messages on a channel. Keyed by a keyed hash of the card number."""

    __tablename__ = "notification_opt_out"
    __table_args__ = (UniqueConstraint("patron_key", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
