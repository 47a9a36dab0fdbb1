"""Staff accounts and the `lockerbridge user add` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from bridge.staff_users import AccountError, Role, add_user, authenticate, verify_totp
from bridge.storage.db import unit_of_work
from bridge.storage.tables.staff import StaffUserRow

REPO = Path(__file__).resolve().parents[2]


def test_user_add_creates_the_first_admin_and_prints_the_totp_uri_once(tmp_path, rt):
    config = tmp_path / "lb.toml"
    config.write_text(
        f'database_url = "{rt.settings.database_url}"\n'
        '[web]\nsecret_key = "' + "k" * 40 + '"\n'
        '[security]\ncode_keys = ["test-code-key-0123456789abcdef"]\n'
        '[[ils]]\nname = "main-ils"\n'
        '[[banks]]\nid = "main-lobby"\nname = "Main"\nbranch = "MAIN"\nils = "main-ils"\n'
        'sip_login = { user = "u", password = "p" }\n'
        'compartments = [{ number = 1, size = "S" }]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "-c", str(config), "user", "add", "boss", "--role", "admin", "--password-stdin", "--totp"],
        input="a long enough password\n", capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    uri = next(line for line in proc.stdout.splitlines() if line.startswith("otpauth://"))
    assert "a long enough password" not in proc.stdout + proc.stderr
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(StaffUserRow).where(StaffUserRow.username == "boss")).one()
        assert row.role == "admin" and row.password_hash.startswith("$argon2id$")
        assert verify_totp(s, row.id, pyotp.parse_uri(uri).now())


def test_an_admin_without_a_second_factor_is_refused(rt):
    with unit_of_work(rt.sessions) as s, pytest.raises(AccountError, match="second factor"):
        add_user(s, "boss", "a long enough password", Role.ADMIN)


def test_short_passwords_and_taken_names_are_refused(rt):
    with unit_of_work(rt.sessions) as s:
        with pytest.raises(AccountError, match="at least 12"):
            add_user(s, "shorty", "short", Role.STAFF)
        add_user(s, "taken", "a long enough password", Role.STAFF)
        with pytest.raises(AccountError, match="already exists"):
            add_user(s, "taken", "a long enough password", Role.STAFF)


def test_passwords_are_checked_against_the_hash(rt):
    from datetime import UTC, datetime

    with unit_of_work(rt.sessions) as s:
        add_user(s, "reader", "a long enough password", Role.VIEWER)
    with unit_of_work(rt.sessions) as s:
        now = datetime.now(UTC)
        assert authenticate(s, "reader", "a long enough password", now=now) is not None
        assert authenticate(s, "reader", "a long enough passworD", now=now) is None


