"""What staff see of notifications: the ones that did not reach the patron."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.storage.tables.notifications import NotificationRow

NEEDS_STAFF = ("failed", "partial")


@dataclass(frozen=True)
class FailedMessage:
    """A message that failed for good on at least one channel.

    ``patron`` is the card number so staff can phone or correct the ILS record; ``state``
    is "failed" (nothing reached the patron) or "partial" (another channel did).
    """

    id: int
    kind: str
    bank_id: str
    patron: str | None
    state: str
    channels_sent: tuple[str, ...]
    error: str
    created_at: datetime
    settled_at: datetime | None


def failed_messages(
    session: Session, *, limit: int = 200, bank_id: str | None = None
) -> list[FailedMessage]:
    """Newest first; only one bank's when ``bank_id`` is given."""
    query = select(NotificationRow).where(NotificationRow.state.in_(NEEDS_STAFF))
    if bank_id is not None:
        query = query.where(NotificationRow.bank_id == bank_id)
    rows = session.scalars(
        query.order_by(NotificationRow.created_at.desc(), NotificationRow.id.desc()).limit(limit)
    ).all()
    return [
        FailedMessage(
            id=r.id,
            kind=r.kind,
            bank_id=r.bank_id,
            patron=r.patron,
            state=r.state,
            channels_sent=tuple(c for c in r.channels_sent.split(",") if c),
            error=r.error or "",
            created_at=r.created_at,
            settled_at=r.settled_at,
        )
        for r in rows
    ]


def dismiss(session: Session, notification_id: int, *, now: datetime) -> bool:
    """Staff dealt with a failed message: it leaves the list and the card number is dropped."""
    row = session.get(NotificationRow, notification_id)
    if row is None or row.state not in NEEDS_STAFF:
        return False
    row.state = "dismissed"
    row.patron = None
    row.settled_at = now
    return True
