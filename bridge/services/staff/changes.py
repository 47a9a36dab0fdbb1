"""Changes to staff accounts, as the ``lockerbridge user`` command makes them
(``bridge.entrypoints.user_command``): reset a password or a second factor, remove, disable,
enable, change the role; list the accounts and an account's live staff sessions.

Every change is audited with the operator's name and ends the account's live sessions
(:func:`end_sessions`, the caller's step after the commit), so a reset password or second
factor is needed at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pyotp
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.staff.accounts import (
    ISSUER,
    AccountError,
    Role,
    check_password_rules,
    password_hasher,
    seal_totp_secret,
)
from bridge.storage.db import unit_of_work
from bridge.storage.tables.staff import StaffUserRow

SESSION_PATTERN = "lockerbridge:staff-session:*"  # bridge.web.security.SESSION_KEY

Verb = Literal["reset-password", "reset-totp", "remove", "disable", "enable", "role"]


@dataclass(frozen=True)
class LiveSession:
    sid_hint: str  # the first characters of the session id: enough to tell sessions apart
    key: str
    user_id: int
    started_at: float


def live_sessions(redis: Redis, user_id: int | None = None) -> Iterator[LiveSession]:
    """Every live staff session (of one account, when ``user_id`` is given)."""
    for key in redis.scan_iter(match=SESSION_PATTERN, count=500):
        name = key.decode() if isinstance(key, bytes) else key
        data = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in redis.hgetall(name).items()
        }
        if "user_id" not in data or (user_id is not None and int(data["user_id"]) != user_id):
            continue
        sid = name.rsplit(":", 1)[1]
        yield LiveSession(sid[:6], name, int(data["user_id"]), float(data.get("started_at", 0)))


def end_sessions(redis: Redis, user_id: int) -> int:
    """Deletes every live staff session of the account; returns how many there were."""
    return sum(int(redis.delete(found.key)) for found in live_sessions(redis, user_id))


def account_sessions(rt: Runtime, username: str) -> list[LiveSession]:
    """The live sessions of the account ``username``, oldest first. Raises AccountError."""
    with unit_of_work(rt.sessions) as s:
        user_id = _find(s, username).id
    return sorted(live_sessions(rt.redis, user_id), key=lambda f: f.started_at)


@dataclass(frozen=True)
class AccountLine:
    username: str
    role: str
    active: bool
    totp: bool


def all_accounts(session: Session) -> list[AccountLine]:
    """Every account by name: its role, whether it is active and has a second factor."""
    return [
        AccountLine(row.username, row.role, row.active, row.totp_secret is not None)
        for row in session.scalars(select(StaffUserRow).order_by(StaffUserRow.username))
    ]


def _find(session: Session, username: str) -> StaffUserRow:
    row = session.scalar(select(StaffUserRow).where(StaffUserRow.username == username.strip()))
    if row is None:
        raise AccountError(f"no account {username!r}")
    return row


def change(
    session: Session,
    settings: Settings,
    username: str,
    verb: Verb,
    *,
    actor: str,
    now: datetime,
    new_password: Callable[[], str] | None = None,
    role: Role | None = None,
    confirm_removal: Callable[[str], None] | None = None,
) -> tuple[int, list[str]]:
    """Applies one verb to the account ``username``; returns its id and the lines to print.

    ``new_password`` gives the password of ``reset-password`` and ``role`` the role of
    ``role``; ``confirm_removal`` (given the account's name) raises AccountError when a
    ``remove`` is not confirmed. Each is asked only once the account is found.
    """
    row = _find(session, username)
    out: list[str] = []
    detail: dict[str, object]
    if verb == "reset-password":
        if new_password is None:
            raise AccountError("reset-password needs a new password")
        password = new_password()
        check_password_rules(password)
        row.password_hash = password_hasher(settings).hash(password)
        detail = {"password": "reset"}
        out.append(f"{row.username}: new password set")
    elif verb == "reset-totp":
        secret = pyotp.random_base32()
        row.totp_secret = seal_totp_secret(settings, row.username, secret)
        row.totp_last_step = None
        detail = {"totp": "replaced"}
        out.append(f"{row.username}: new second factor; the old one no longer works.")
        out.append("TOTP provisioning URI (scan or paste into an authenticator app; shown once):")
        out.append(pyotp.TOTP(secret).provisioning_uri(name=row.username, issuer_name=ISSUER))
    elif verb == "remove":
        if confirm_removal is not None:
            confirm_removal(row.username)
        detail = {"removed": True}
        session.delete(row)
        out.append(f"{row.username}: removed")
    elif verb in ("disable", "enable"):
        row.active = verb == "enable"
        detail = {"active": row.active}
        out.append(f"{row.username}: {row.role}, {'active' if row.active else 'disabled'}")
    elif verb == "role":
        if role is None:
            raise AccountError("role needs a role")
        if role is Role.ADMIN and row.totp_secret is None:
            raise AccountError("admin accounts need a second factor: run reset-totp first")
        row.role = role.value
        detail = {"role": role.value}
        out.append(f"{row.username}: {row.role}, {'active' if row.active else 'disabled'}")
    else:  # the command line only lets known verbs through
        raise AccountError(f"unknown user command {verb!r}")
    audit(
        session,
        "staff_account_changed",
        at=now,
        actor=actor,
        account=row.username,
        change=verb.replace("-", "_"),
        detail=detail,
    )
    return row.id, out
