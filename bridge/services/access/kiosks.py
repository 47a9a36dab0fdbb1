"""Enrolled kiosks: which browser (or kiosk program) may act as a bank's kiosk (docs/access.md).

Every kiosk page that opens a door, shows a code or changes anything needs an enrolled device.
Enrolment (admins only, audited) makes a random token for one bank; only its SHA-256 is stored,
the token is handed out once: as an HTTP-only cookie in the kiosk browser, or shown once for a
kiosk program that sends it in a header. Staff list and revoke devices; a revoked token is
refused on its very next request because every request looks the hash up.

The token carries 256 random bits, so an unkeyed hash is enough: nothing about it can be
guessed from the hash, unlike a PIN or a six-digit code.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import KioskDeviceRow

MAX_TOKEN = 100  # longer values are refused before hashing


@dataclass(frozen=True)
class KioskDevice:
    id: int
    bank_id: str
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def key(self) -> str:
        """The name guessing limits and the audit use for this kiosk."""
        return f"kiosk:{self.id}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _device(row: KioskDeviceRow) -> KioskDevice:
    return KioskDevice(
        row.id, row.bank_id, row.name, row.created_at, row.created_by, row.revoked_at,
        row.revoked_by,
    )


def enrol(rt: Runtime, bank_id: str, name: str, *, actor: str) -> tuple[KioskDevice, str]:
    """A new kiosk device for ``bank_id``: the device and its token (never stored).

    Raises:
        KeyError: unknown bank.
        ValueError: empty name.
    """
    rt.settings.bank(bank_id)
    name = name.strip()[:120]
    if not name:
        raise ValueError("a kiosk needs a name")
    token = secrets.token_urlsafe(32)
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = KioskDeviceRow(
            token_hash=_hash(token), bank_id=bank_id, name=name, created_at=now, created_by=actor
        )
        s.add(row)
        s.flush()
        audit(s, "kiosk_enrolled", at=now, bank_id=bank_id, actor=actor, kiosk=row.id, name=name)
        return _device(row), token


def device_for(rt: Runtime, bank_id: str, token: str | None) -> KioskDevice | None:
    """The live device of ``bank_id`` that ``token`` belongs to, else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    with unit_of_work(rt.sessions) as s:
        row = s.scalar(select(KioskDeviceRow).where(KioskDeviceRow.token_hash == _hash(token)))
        if row is None or row.revoked_at is not None or row.bank_id != bank_id:
            return None
        return _device(row)


def devices(rt: Runtime) -> list[KioskDevice]:
    """All devices ever enrolled, live ones first, then by bank and name."""
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(select(KioskDeviceRow)).all()
        found = [_device(r) for r in rows]
    return sorted(found, key=lambda d: (d.revoked_at is not None, d.bank_id, d.name, d.id))


def revoke(rt: Runtime, device_id: int, *, actor: str) -> bool:
    """Revokes a device at once. False: no such device, or already revoked."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(KioskDeviceRow, device_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at, row.revoked_by = now, actor
        audit(s, "kiosk_revoked", at=now, bank_id=row.bank_id, actor=actor, kiosk=row.id)
        return True
