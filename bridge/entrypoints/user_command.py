"""The ``lockerbridge user`` command: ``add``, ``list``, ``reset-password``, ``reset-totp``,
``remove``, ``sessions``, ``disable``, ``enable`` and ``role`` (:func:`cli_user`), over the
accounts of :mod:`bridge.services.staff.accounts` and the changes of
:mod:`bridge.services.staff.changes`.

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
from datetime import UTC, datetime

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.services.staff.accounts import AccountError, Role, add_user
from bridge.services.staff.changes import account_sessions, all_accounts, change, end_sessions
from bridge.storage.db import check_connection, make_engine, session_factory, unit_of_work


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


def cli_sessions(settings: Settings, args: argparse.Namespace) -> int:
    """``user sessions NAME``: the account's live sessions, one a line (id hint, started)."""

    rt = Runtime.from_settings(settings)
    try:
        try:
            found = account_sessions(rt, args.username)
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for live in found:
            started = datetime.fromtimestamp(live.started_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            print(f"{live.sid_hint}\tsince {started}")
        print(f"{len(found)} live session(s) of {args.username}")
        return 0
    finally:
        rt.close()


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


def cli_change(settings: Settings, args: argparse.Namespace) -> int:
    actor = f"cli:{getpass.getuser()}"
    rt = Runtime.from_settings(settings)
    try:
        try:
            with unit_of_work(rt.sessions) as s:
                user_id, lines = change(
                    s,
                    settings,
                    args.username,
                    args.user_command,
                    actor=actor,
                    now=rt.clock(),
                    new_password=lambda: read_password(args.password_stdin),
                    role=Role(args.role) if args.user_command == "role" else None,
                    confirm_removal=lambda name: _confirm_removal(name, args.yes),
                )
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
            rows = all_accounts(session)
    finally:
        engine.dispose()
    try:
        for row in rows:
            state = "active" if row.active else "disabled"
            print(f"{row.username}\t{row.role}\t{state}\t{'totp' if row.totp else '-'}")
        sys.stdout.flush()
    except BrokenPipeError:  # "| head" closed the pipe early: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
