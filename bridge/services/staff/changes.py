"""The ``lockerbridge user`` command: ``add``, ``list``, ``reset-password``, ``reset-totp``,
``remove``, ``sessions``, ``disable``, ``enable`` and ``role`` (:func:`cli_user`), over the
accounts of :mod:`bridge.services.staff.accounts`.

Made for scripts as well as people: a password comes from standard input with
``--password-stdin`` or whenever standard input is not a terminal (one line), and ``remove``
asks only on a terminal (``--yes`` answers it). Every change is audited with the operator's
login name and ends the account's live sessions, so a reset password or second factor is
needed at once. Errors are one line on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

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
    add_user,
    check_password_rules,
    password_hasher,
    seal_totp_secret,
)
from bridge.storage.db import check_connection, make_engine, session_factory, unit_of_work
from bridge.storage.tables.staff import StaffUserRow

SESSION_PATTERN = "lockerbridge:staff-session:*"  # bridge.web.security.SESSION_KEY


def read_password(from_stdin: bool) -> str:
    """One line from a pipe, else typed twice at the terminal without echo."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise AccountError("no password on standard input (one line expected)")
        return line.rstrip("\r\n")
    try:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Again: ")
    except EOFError:
        raise AccountError("no password given") from None
    if again != password:
        raise AccountError("the passwords differ")
    return password


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


def cli_sessions(settings: Settings, args: argparse.Namespace) -> int:
    """``user sessions NAME``: the account's live sessions, one a line (id hint, started)."""

    rt = Runtime.from_settings(settings)
    try:
        try:
            with unit_of_work(rt.sessions) as s:
                user_id = _find(s, args.username).id
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        found = sorted(live_sessions(rt.redis, user_id), key=lambda f: f.started_at)
        for live in found:
            started = datetime.fromtimestamp(live.started_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            print(f"{live.sid_hint}\tsince {started}")
        print(f"{len(found)} live session(s) of {args.username}")
        return 0
    finally:
        rt.close()


def _find(session: Session, username: str) -> StaffUserRow:
    row = session.scalar(select(StaffUserRow).where(StaffUserRow.username == username.strip()))
    if row is None:
        raise AccountError(f"no account {username!r}")
    return row


def _confirm_removal(username: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise AccountError("removing an account needs --yes when not run at a terminal")
    try:
        answer = input(f"Remove the account {username!r} for good? Type its name to confirm: ")
    except EOFError:
        answer = ""
    if answer.strip() != username:
        raise AccountError("not confirmed; nothing was removed")


def change(
    session: Session, settings: Settings, args: argparse.Namespace, actor: str, now: datetime
) -> tuple[int, list[str]]:
    """Applies one verb; returns the account id and the lines to print."""
    row = _find(session, args.username)
    verb = args.user_command
    out: list[str] = []
    detail: dict[str, object]
    if verb == "reset-password":
        password = read_password(args.password_stdin)
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
        _confirm_removal(row.username, args.yes)
        detail = {"removed": True}
        session.delete(row)
        out.append(f"{row.username}: removed")
    elif verb in ("disable", "enable"):
        row.active = verb == "enable"
        detail = {"active": row.active}
        out.append(f"{row.username}: {row.role}, {'active' if row.active else 'disabled'}")
    elif verb == "role":
        role = Role(args.role)
        if role is Role.ADMIN and row.totp_secret is None:
            raise AccountError("admin accounts need a second factor: run reset-totp first")
        row.role = role.value
        detail = {"role": role.value}
        out.append(f"{row.username}: {row.role}, {'active' if row.active else 'disabled'}")
    else:  # argparse only lets known verbs through
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


def cli_change(settings: Settings, args: argparse.Namespace) -> int:
    actor = f"cli:{getpass.getuser()}"
    rt = Runtime.from_settings(settings)
    try:
        try:
            with unit_of_work(rt.sessions) as s:
                user_id, lines = change(s, settings, args, actor, rt.clock())
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        ended = end_sessions(rt.redis, user_id)
        for line in lines:
            print(line)
        if ended:
            print(f"ended {ended} live session(s) of the account")
        return 0
    finally:
        rt.close()


def cli_user(settings: Settings, args: argparse.Namespace) -> int:
    """``lockerbridge user add NAME --role R [--password-stdin] [--totp]``."""

    if args.user_command == "list":
        return _cli_manage(settings, args)
    if args.user_command == "sessions":
        return cli_sessions(settings, args)
    if args.user_command != "add":
        return cli_change(settings, args)
    try:
        password = read_password(args.password_stdin)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    check_connection(engine)
    try:
        with unit_of_work(session_factory(engine)) as session:
            user, uri = add_user(
                session,
                args.username,
                password,
                Role(args.role),
                totp=args.totp,
                settings=settings,
            )
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"created {user.role.value} account {user.username!r}")
    if uri:
        # Shown once; it is the shared secret. Enter it in an authenticator app now.
        print("TOTP provisioning URI (scan or paste into an authenticator app; shown only once):")
        print(uri)
    return 0


def _cli_manage(settings: Settings, args: argparse.Namespace) -> int:
    """``user list``: every account, tab-separated (name, role, active or disabled, totp)."""

    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            rows = [
                (row.username, row.role, row.active, row.totp_secret is not None)
                for row in session.scalars(select(StaffUserRow).order_by(StaffUserRow.username))
            ]
    finally:
        engine.dispose()
    try:
        for username, role, active, totp in rows:
            state = "active" if active else "disabled"
            print(f"{username}\t{role}\t{state}\t{'totp' if totp else '-'}")
        sys.stdout.flush()
    except BrokenPipeError:  # "| head" closed the pipe early: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
