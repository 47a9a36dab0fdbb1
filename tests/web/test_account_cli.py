"""``lockerbridge user ...`` as a script runs it: no terminal, the password piped in, one-line
errors and no traceback; every change ends the account's live sessions (signed in through the
real web forms beforehand) and is audited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role, authenticate
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.staff import StaffUserRow
from tests.support.config import REPO
from tests.web.conftest import PASSWORD, Account, sign_in

NEW_PASSWORD = "a brand new long passphrase"


def _config(tmp_path: Path, rt: Runtime, embedded_redis: Any) -> Path:
    config = tmp_path / "cli.toml"
    config.write_text(
        f'database_url = "{rt.settings.database_url}"\n'
        f'redis_url = "{embedded_redis.url}"\n'
        '[web]\nsecret_key = "' + "k" * 40 + '"\n'
        '[security]\ncode_keys = ["test-code-key-0123456789abcdef"]\n'
        'staff_password_hashing = "fast-insecure-for-tests"\n'
        '[[ils]]\nname = "main-ils"\n'
        '[[banks]]\nid = "main-lobby"\nname = "Main"\nbranch = "MAIN"\nils = "main-ils"\n'
        'sip_login = { user = "u", password = "p" }\n'
        'compartments = [{ number = 1, size = "S" }]\n'
    )
    return config


def _user(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # stdin is a pipe, never a terminal, as under cron or a provisioning script.
    return subprocess.run(
        [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(config), "user", *args],
        input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60,
    )


def _signed_in(client: FlaskClient) -> bool:
    resp = client.get("/staff/work")
    return resp.status_code == 200


def test_account_verbs_without_a_terminal_end_sessions_and_are_audited(
    tmp_path: Path, rt: Runtime, embedded_redis: Any, app: Any, accounts: dict[Role, Account]
) -> None:
    config = _config(tmp_path, rt, embedded_redis)
    staff = accounts[Role.STAFF]

    # The demo's suggested command with the password piped in and no --password-stdin.
    made = _user(config, "add", "night-desk", "--role", "viewer", stdin="night desk password\n")
    assert made.returncode == 0 and "Traceback" not in made.stderr, made.stderr

    listed = _user(config, "list")
    assert "night-desk\tviewer\tactive\t-" in listed.stdout.splitlines()

    client = app.test_client()
    sign_in(client, staff)
    assert _signed_in(client)
    reset = _user(config, "reset-password", staff.username, stdin=NEW_PASSWORD + "\n")
    assert reset.returncode == 0, reset.stderr
    assert "ended 1 live session" in reset.stdout and NEW_PASSWORD not in reset.stdout
    assert not _signed_in(client)  # the old session is gone at once
    with unit_of_work(rt.sessions) as s:
        assert authenticate(s, staff.username, NEW_PASSWORD, settings=rt.settings, now=rt.clock()) is not None
        assert authenticate(s, staff.username, PASSWORD, settings=rt.settings, now=rt.clock()) is None

    client = app.test_client()
    sign_in(client, Account(staff.username, NEW_PASSWORD, Role.STAFF, None))
    totp = _user(config, "reset-totp", staff.username)
    assert totp.returncode == 0, totp.stderr
    uri = next(line for line in totp.stdout.splitlines() if line.startswith("otpauth://"))
    assert pyotp.parse_uri(uri).secret and not _signed_in(client)

    refused = _user(config, "remove", "night-desk")  # no terminal to ask: --yes needed
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == "error: removing an account needs --yes when not run at a terminal"
    removed = _user(config, "remove", "night-desk", "--yes")
    assert removed.returncode == 0, removed.stderr
    with unit_of_work(rt.sessions) as s:
        names = set(s.scalars(select(StaffUserRow.username)))
        changes = [
            (e.actor.split(":")[0], e.detail["change"])
            for e in s.scalars(
                select(AuditEventRow).where(AuditEventRow.kind == "staff_account_changed")
            )
        ]
    assert "night-desk" not in names
    assert changes == [("cli", "reset_password"), ("cli", "reset_totp"), ("cli", "remove")]


def test_mistakes_are_one_line_not_a_traceback(
    tmp_path: Path, rt: Runtime, embedded_redis: Any, accounts: dict[Role, Account]
) -> None:
    config = _config(tmp_path, rt, embedded_redis)
    cases = [
        (("reset-password", "nobody"), "x" * 20 + "\n", "error: no account 'nobody'"),
        (("add", "late"), "", "no password on standard input"),
        (("role", "viewer-1", "admin"), "", "need a second factor"),
    ]
    for args, stdin, words in cases:
        proc = _user(config, *args, stdin=stdin)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and words in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_an_accounts_live_sessions_are_listed_and_end_when_it_is_disabled(
    tmp_path: Path, rt: Runtime, embedded_redis: Any, app: Any, accounts: dict[Role, Account]
) -> None:
    config = _config(tmp_path, rt, embedded_redis)
    staff = accounts[Role.STAFF]
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        sign_in(browser, staff)
    other = app.test_client()
    sign_in(other, accounts[Role.VIEWER])

    listed = _user(config, "sessions", staff.username)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1] == f"2 live session(s) of {staff.username}"
    assert all("\tsince " in line for line in listed.stdout.splitlines()[:-1])

    disabled = _user(config, "disable", staff.username)
    assert "ended 2 live session(s)" in disabled.stdout, disabled.stdout
    assert not any(_signed_in(b) for b in browsers) and _signed_in(other)
    after = _user(config, "sessions", staff.username)
    assert after.stdout.splitlines() == [f"0 live session(s) of {staff.username}"]
    unknown = _user(config, "sessions", "nobody")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: no account 'nobody'"
