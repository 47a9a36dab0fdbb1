"""Tables of access beyond the keypad: phone links, mapped credentials, day-use reservations.

Only keyed hashes of secrets are stored (phone link tokens, vendor credential ids). The card
number kept with a mapped credential or a day-use reservation is personal data: a mapping lives
until staff remove it; a reservation's card is blanked when the reservation ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class PhoneLinkRow(Base):
    """A link to the phone page, sent in the ready-for-pickup message.

    Live while not used nor revoked and before ``expires_at`` (the hold-shelf expiry).
    """

    __tablename__ = "phone_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    bank_id: Mapped[str] = mapped_column(String(63), index=True)
    patron_ref: Mapped[str] = mapped_column(String(64), index=True)
    grant_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class CredentialRow(Base):
    """A verified vendor credential (palm vein, vendor app...) enrolled for a library card."""

    __tablename__ = "mapped_credential"
    __table_args__ = (UniqueConstraint("scheme", "credential_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(32))
    credential_hash: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(String(64))  # the library card number: personal data
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="system")


class DayUseRow(Base):
    """One day-use reservation of a compartment.

    ``state``: ``active`` (within the window) → ``ended`` (patron released it) or ``expired``.
    """

    __tablename__ = "dayuse_reservation"
    __table_args__ = (
        Index("ix_dayuse_bank_state", "bank_id", "state"),
        # One live reservation per door, whatever races past the service's checks.
        Index(
            "uq_dayuse_live_door",
            "bank_id",
            "compartment",
            unique=True,
            sqlite_where=text("state IN ('active', 'expired')"),
            postgresql_where=text("state IN ('active', 'expired')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[str] = mapped_column(String(63))
    compartment: Mapped[int]
    patron: Mapped[str | None] = mapped_column(String(64))  # card number while active
    patron_ref: Mapped[str] = mapped_column(String(64), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="active")
    via: Mapped[str] = mapped_column(String(16), default="kiosk")
    reminded_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    opened_count: Mapped[int] = mapped_column(default=0)


class KioskDeviceRow(Base):
    """An enrolled kiosk: the browser (or kiosk program) allowed to act as a bank's kiosk.

    Only a hash of the device's token is kept; the token itself is shown once, at enrolment.
    A revoked device stays listed (who enrolled and revoked it, and when) but opens nothing.
    """

    __tablename__ = "kiosk_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    bank_id: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
