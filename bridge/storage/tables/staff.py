"""Staff accounts for the status page. Sessions and throttles live in Redis, not here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class StaffUserRow(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # argon2id, in the PHC string format argon2-cffi writes (parameters travel with the hash).
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # viewer | staff | admin
    # Base32 TOTP secret (RFC 6238); None: no second factor enrolled.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted, so one code cannot be replayed (RFC 6238 section 5.2).
    totp_last_step: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
