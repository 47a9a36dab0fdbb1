"""Patrons who do not want messages on a channel.

Stored under a keyed hash of the card number (``security.code_keys``), never the number: the
table says nothing about who opted out without the key. All configured keys are tried when
reading, so rotating keys keeps existing opt-outs.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.notify.kinds import Channel
from bridge.storage.tables.notifications import NotificationOptOutRow

_DOMAIN = b"lockerbridge notify opt-out\x00"


def patron_keys(settings: Settings, patron: str) -> list[str]:
    """The keyed hashes of a card number, newest key first."""
    card = patron.strip().encode("utf-8")
    return [
        hmac.new(key.encode("utf-8"), _DOMAIN + card, hashlib.sha256).hexdigest()
        for key in settings.security.code_keys
    ]


def opted_out(session: Session, settings: Settings, patron: str) -> frozenset[Channel]:
    rows = session.scalars(
        select(NotificationOptOutRow.channel).where(
            NotificationOptOutRow.patron_key.in_(patron_keys(settings, patron))
        )
    ).all()
    return frozenset(Channel(c) for c in rows if c in Channel.__members__.values())


def set_opt_out(
    session: Session, settings: Settings, patron: str, channel: Channel, *, now: datetime
) -> None:
    """The patron gets no more messages on ``channel`` (idempotent)."""
    if Channel(channel) in opted_out(session, settings, patron):
        return
    session.add(
        NotificationOptOutRow(
            patron_key=patron_keys(settings, patron)[0],
            channel=Channel(channel).value,
            created_at=now,
        )
    )


def clear_opt_out(session: Session, settings: Settings, patron: str, channel: Channel) -> None:
    """The patron wants messages on ``channel`` again (idempotent)."""
    session.execute(
        delete(NotificationOptOutRow).where(
            NotificationOptOutRow.patron_key.in_(patron_keys(settings, patron)),
            NotificationOptOutRow.channel == Channel(channel).value,
        )
    )
