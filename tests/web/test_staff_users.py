"""Staff accounts and the `lockerbridge user add` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from bridge.services.staff.accounts import AccountError, Role, add_user, authenticate, verify_totp
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
        [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(config), "user", "add", "boss", "--role", "admin", "--password-stdin", "--totp"],
        input="a long enough password\n", capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    uri = next(line for line in proc.stdout.splitlines() if line.startswith("otpauth://"))
    assert "a long enough password" not in proc.stdout + proc.stderr
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(StaffUserRow).where(StaffUserRow.username == "boss")).one()
        assert row.role == "admin" and row.password_hash.startswith("$argon2id$")
        secret = pyotp.parse_uri(uri).secret
        assert secret not in row.totp_secret  # encrypted at rest
        assert verify_totp(s, row.id, pyotp.parse_uri(uri).now(), settings=rt.settings)


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




def test_the_totp_secret_is_never_stored_in_the_clear(rt):
    import base64

    with unit_of_work(rt.sessions) as s:
        user, uri = add_user(s, "second", "a long enough password", Role.STAFF, totp=True,
                             settings=rt.settings)
    secret = pyotp.parse_uri(uri).secret
    with unit_of_work(rt.sessions) as s:
        stored = s.get(StaffUserRow, user.id).totp_secret
        assert stored and secret not in stored and secret.lower() not in stored.lower()
        assert base64.b32decode(secret) not in base64.urlsafe_b64decode(stored + "==")
        assert verify_totp(s, user.id, pyotp.TOTP(secret).now(), settings=rt.settings)


def test_a_secret_sealed_with_another_key_or_moved_to_another_account_does_not_verify(rt):
    from bridge.config import load_settings
    from tests.web.conftest import web_config

    with unit_of_work(rt.sessions) as s:
        alice, uri = add_user(s, "alice", "a long enough password", Role.STAFF, totp=True,
                              settings=rt.settings)
        bob, _ = add_user(s, "bob", "a long enough password", Role.STAFF, totp=True,
                          settings=rt.settings)
    totp = pyotp.parse_uri(uri)
    other = load_settings(None, **{**web_config(Path(rt.settings.database_url[10:]).parent),
                                  "web": {"secret_key": "x" * 40, "secure_cookies": False}})
    with unit_of_work(rt.sessions) as s:
        assert not verify_totp(s, alice.id, totp.now(), settings=other)
        s.get(StaffUserRow, bob.id).totp_secret = s.get(StaffUserRow, alice.id).totp_secret
    with unit_of_work(rt.sessions) as s:
        assert not verify_totp(s, bob.id, totp.now(), settings=rt.settings)
        assert verify_totp(s, alice.id, totp.now(), settings=rt.settings)


def test_a_secret_stored_in_the_clear_by_an_older_version_still_works_and_gets_sealed(rt):
    with unit_of_work(rt.sessions) as s:
        user, _ = add_user(s, "old-timer", "a long enough password", Role.STAFF)
        secret = pyotp.random_base32()
        s.get(StaffUserRow, user.id).totp_secret = secret
    with unit_of_work(rt.sessions) as s:
        assert verify_totp(s, user.id, pyotp.TOTP(secret).now(), settings=rt.settings)
    with unit_of_work(rt.sessions) as s:
        assert secret not in s.get(StaffUserRow, user.id).totp_secret
