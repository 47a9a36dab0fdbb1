"""Staff alerts: one row per time a condition held (raised, then cleared when it ended).

``sent`` records which deliveries went out ("raised:email", "cleared:webhook", ...), so a
delivery that failed is retried on the next check and one that succeeded is never repeated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class AlertRow(Base):
    __tablename__ = "staff_alert"
    __table_args__ = (
        UniqueConstraint("key", "raised_at"),
        Index("ix_staff_alert_open", "cleared_at", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160))  # rule + what it is about, e.g. door_open:b:3
    rule: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))  # "critical" | "warning"
    bank_id: Mapped[str | None] = mapped_column(String(63))
    compartment: Mapped[int | None]
    summary: Mapped[str] = mapped_column(String(300))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]
    sent: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(String(300))
