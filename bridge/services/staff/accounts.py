"""Staff accounts: creation, password and second-factor checks, the ``lockerbridge user`` command.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's second
recommended option); the hash carries its own parameters, so stronger settings later still
verify old hashes and re-hash them at the next sign-in.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.storage.tables.staff import StaffUserRow

ISSUER = "Lockerbridge"
MIN_PASSWORD_LENGTH = 12  # ASVS 2.1.1
MAX_PASSWORD_LENGTH = 128  # ASVS 2.1.2: at least 64 must be allowed


@functools.cache
def _hasher_for(mode: str) -> PasswordHasher:
    if mode == "fast-insecure-for-tests":
        # The smallest costs argon2 accepts: only ever set explicitly by a test configuration.
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()  # argon2-cffi's defaults: RFC 9106, second recommended option


def password_hasher(settings: Settings | None = None) -> PasswordHasher:
    """The hasher ``security.staff_password_hashing`` asks for (RFC 9106 unless a test says)."""
    return _hasher_for(settings.security.staff_password_hashing if settings else "rfc9106")


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verifying against this keeps "no such user" as slow as "wrong password" (no enumeration).
    return hasher.hash("not a real password, only for timing")


# --- TOTP secrets at rest ---------------------------------------------------------------------
# Stored as base64url(nonce || AES-256-GCM(secret bytes)), with the user name as associated
# data (a secret copied onto another account does not decrypt). 12 + 20 + 16 bytes make 64
# characters: the column's width. The key comes from HKDF-SHA256 over security.totp_key, or
# over web.secret_key when that is not set. A 32-character value is a base32 secret stored in
# the clear by an older version; it still verifies and is sealed at its next use.
_TOTP_INFO = b"lockerbridge staff totp secret v1"
_NONCE = 12
_PLAIN_LENGTH = 32  # pyotp.random_base32(): 160 bits


@functools.cache
def _aead(material: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOTP_INFO).derive(
        material.encode()
    )
    return AESGCM(key)


def _totp_cipher(settings: Settings) -> AESGCM:
    return _aead(settings.security.totp_key or settings.web.secret_key)


def seal_totp_secret(settings: Settings, username: str, secret: str) -> str:
    """The stored form of a base32 TOTP secret."""
    nonce = os.urandom(_NONCE)
    sealed = _totp_cipher(settings).encrypt(nonce, base64.b32decode(secret), username.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_totp_secret(settings: Settings, username: str, stored: str) -> str | None:
    """The base32 secret, or None when it does not decrypt (another key, or tampered with)."""
    if len(stored) == _PLAIN_LENGTH:
        return stored  # stored in the clear by an older version
    try:
        data = base64.urlsafe_b64decode(stored + "=" * (-len(stored) % 4))
        raw = _totp_cipher(settings).decrypt(data[:_NONCE], data[_NONCE:], username.encode())
    except (InvalidTag, ValueError):
        return None
    return base64.b32encode(raw).decode()


class Role(StrEnum):
    VIEWER = "viewer"
    STAFF = "staff"
    ADMIN = "admin"

    def at_least(self, other: Role) -> bool:
        order = [Role.VIEWER, Role.STAFF, Role.ADMIN]
        return order.index(self) >= order.index(other)


class AccountError(Exception):
    """The account cannot be created as asked; the message says what to change."""


@dataclass(frozen=True)
class StaffUser:
    """What the web layer keeps about a signed-in person."""

    id: int
    username: str
    role: Role
    has_totp: bool


def _as_user(row: StaffUserRow) -> StaffUser:
    return StaffUser(row.id, row.username, Role(row.role), row.totp_secret is not None)


def check_password_rules(password: str) -> None:
    """Raises AccountError when the password is too short or too long (ASVS 2.1)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password may have at most {MAX_PASSWORD_LENGTH} characters")


def add_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    *,
    totp: bool = False,
    settings: Settings | None = None,
) -> tuple[StaffUser, str | None]:
    """Creates an account; returns it and, with ``totp``, the provisioning URI to show once.

    Raises:
        AccountError: the name is taken or invalid, or the password breaks the rules.
    """
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise AccountError("the user name must be 1 to 64 characters without spaces")
    check_password_rules(password)
    if role is Role.ADMIN and not totp:
        # Admins can unlock doors remotely and manage accounts: a second factor is mandatory.
        raise AccountError("admin accounts need a second factor: add --totp")
    taken = session.scalar(
        select(func.count()).select_from(StaffUserRow).where(StaffUserRow.username == username)
    )
    if taken:
        raise AccountError(f"user {username!r} already exists")
    if totp and settings is None:
        raise TypeError("add_user(totp=True) needs settings= to encrypt the TOTP secret")
    secret = pyotp.random_base32() if totp else None
    row = StaffUserRow(
        username=username,
        password_hash=password_hasher(settings).hash(password),
        role=role.value,
        totp_secret=(seal_totp_secret(settings, username, secret) if secret and settings else None),
    )
    session.add(row)
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER) if secret else None
    return _as_user(row), uri


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    settings: Settings | None = None,
) -> StaffUser | None:
    """The account if the password matches an active account, else None (same time either way)."""
    hasher = password_hasher(settings)
    row = session.scalar(select(StaffUserRow).where(StaffUserRow.username == username.strip()))
    if row is None or not row.active:
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy_hash(hasher), password)
        return None
    try:
        hasher.verify(row.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hasher.hash(password)
    row.last_login_at = now
    return _as_user(row)


def verify_totp(
    session: Session, user_id: int, code: str, *, settings: Settings, at: float | None = None
) -> bool:
    """Checks a six-digit code (one step of clock drift allowed) and burns its time step."""
    row = session.get(StaffUserRow, user_id)
    code = code.strip().replace(" ", "")
    if row is None or row.totp_secret is None or not code.isdigit():
        return False
    secret = open_totp_secret(settings, row.username, row.totp_secret)
    if secret is None:
        return False
    if secret == row.totp_secret:  # an older version stored it in the clear: seal it now
        row.totp_secret = seal_totp_secret(settings, row.username, secret)
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step_now = int(now // totp.interval)
    for step in (step_now, step_now - 1, step_now + 1):
        if totp.at(step * totp.interval) == code:
            # RFC 6238 5.2: a code may be accepted only once.
            if row.totp_last_step is not None and step <= row.totp_last_step:
                return False
            row.totp_last_step = step
            return True
    return False


def account_exists(session: Session, username: str) -> bool:
    """Whether an account (active or not) has exactly this name."""
    found = session.scalar(
        select(func.count())
        .select_from(StaffUserRow)
        .where(StaffUserRow.username == username.strip())
    )
    return bool(found)


def get_user(session: Session, user_id: int) -> StaffUser | None:
    row = session.get(StaffUserRow, user_id)
    if row is None or not row.active:
        return None
    return _as_user(row)
