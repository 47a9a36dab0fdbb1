"""``lockerbridge check-config`` reaches every ILS with every bank's SIP login, and
``lockerbridge sip2 --bank`` talks to it as configured: through the real command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from sip2.acs.catalogue_file import catalogue_from_dict
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from tests.support.acs import CATALOGUE
from tests.support.config import EXAMPLE_SECRETS, REPO

ANA = "23000000000001"  # PIN 1234 in the sample catalogue


def _config(tmp_path: Path, port: int, *extra_ils: str, **replace: str) -> Path:
    text = (REPO / "examples" / "lockerbridge.toml").read_text()
    text = text.replace(
        'database_url = "sqlite:///var/lockerbridge.db"',
        f'database_url = "sqlite:///{tmp_path}/lb.db"',
    )
    ils = "\n".join([f"port = {port}", "timeout_seconds = 2", *extra_ils]) + "\n"
    text = text.replace("port = 6001\n", ils).replace("timeout_seconds = 10\n", "")
    for old, new in {**EXAMPLE_SECRETS, **replace}.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "lb.toml"
    path.write_text(text)
    return path


def _run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(cfg), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOCKERBRIDGE_CONFIG": ""},
    )


def test_every_bank_logs_in_and_the_flags_and_session_budget_are_printed(
    tmp_path: Path, acs: ReferenceACS
) -> None:
    cfg = _config(tmp_path, acs.address[1], 'test_item = "39000000000001"')

    out = _run(cfg, "check-config", "--processes", "5")

    assert out.returncode == 0, out.stderr
    lines = out.stdout
    assert "bank main-lobby ('lockers-main' on ILS catalogue): login accepted" in lines
    assert "bank east-station ('lockers-east' on ILS catalogue): login accepted" in lines
    assert "status (99) answered: online Y, checkin ok Y, checkout ok Y, protocol 2.00" in lines
    assert "test item 39000000000001 found: " in lines
    assert "ILS catalogue: up to 10 SIP2 session(s) at once = max_connections 2 x 5" in lines
    assert "configuration OK: 2 bank(s)" in lines


def test_status_flags_saying_n_are_warnings_not_failures(tmp_path: Path) -> None:
    with ReferenceACS(CATALOGUE, modes=Modes(status_says_no=True)) as acs:
        out = _run(_config(tmp_path, acs.address[1]), "check-config")

    assert out.returncode == 0, out.stderr
    assert "checkin ok N, checkout ok N" in out.stdout
    assert "warning: bank main-lobby ('lockers-main' on ILS catalogue): the ILS's status " \
        "reply says check-in is not allowed (98 checkin ok N)" in out.stdout  # fmt: skip


def test_a_closed_port_fails_with_a_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    out = _run(_config(tmp_path, closed), "check-config")

    assert out.returncode == 1
    assert f"error: bank main-lobby ('lockers-main' on ILS catalogue): no answer from " \
        f"127.0.0.1:{closed}" in out.stderr  # fmt: skip
    assert "configuration OK" not in out.stdout


def test_a_wrong_password_fails_with_a_clear_line(tmp_path: Path, acs: ReferenceACS) -> None:
    cfg = _config(tmp_path, acs.address[1], **{'password = "demo-east"': 'password = "wrong"'})

    out = _run(cfg, "check-config")

    assert out.returncode == 1
    assert "error: bank east-station ('lockers-east' on ILS catalogue): 127.0.0.1:" in out.stderr
    assert "refused the SIP login: check sip_login user and password" in out.stderr
    assert "wrong" not in out.stderr and "wrong" not in out.stdout  # the password is not shown
    assert "bank main-lobby ('lockers-main' on ILS catalogue): login accepted" in out.stdout


def test_a_missing_test_item_fails_with_a_clear_line(tmp_path: Path, acs: ReferenceACS) -> None:
    cfg = _config(tmp_path, acs.address[1], 'test_item = "NOT-AN-ITEM"')

    out = _run(cfg, "check-config")

    assert out.returncode == 1
    assert "test item NOT-AN-ITEM is not in the catalogue (check [[ils]] test_item)" in out.stderr


def test_the_sip2_tool_takes_the_banks_login_and_says_whether_a_pin_was_accepted(
    tmp_path: Path, acs: ReferenceACS
) -> None:
    cfg = _config(tmp_path, acs.address[1])

    right = _run(cfg, "sip2", "--bank", "main-lobby", "patron", ANA, "--pin", "1234")
    wrong = _run(cfg, "sip2", "--ils", "catalogue", "patron", ANA, "--pin", "9876")
    nobank = _run(cfg, "sip2", "--bank", "nowhere", "ping")

    assert right.returncode == 0, right.stderr
    assert right.stdout.rstrip().endswith("PIN accepted") and "1234" not in right.stdout
    assert wrong.stdout.rstrip().endswith("PIN not accepted") and "9876" not in wrong.stdout
    assert nobank.returncode == 2 and "no bank 'nowhere'" in nobank.stderr


def test_banks_on_the_ils_s_shared_login_are_checked_with_one_login(tmp_path: Path) -> None:
    data = json.loads(CATALOGUE.read_text())
    data["accounts"].append(
        {"user": "lockers-all", "password": "pw-all", "institution": "RPL", "location": "MAIN"}
    )
    shared = 'sip_login = { user = "lockers-all", password = "pw-all", location = "MAIN" }'
    # The banks' own logins left out: both use the ILS's.
    own = {
        'sip_login = { user = "lockers-main", password = "demo-main" }\n': "",
        'sip_login = { user = "lockers-east", password = "demo-east" }\n': "",
    }
    with ReferenceACS(catalogue_from_dict(data)) as acs:
        out = _run(_config(tmp_path, acs.address[1], shared, **own), "check-config")

        assert out.returncode == 0, out.stderr
        logins = acs.logins
    assert "banks main-lobby, east-station ('lockers-all' on ILS catalogue): login accepted" in (
        out.stdout
    )
    assert out.stdout.count("login accepted") == 1
    # The check's own requests, each on a fresh session (login, then 99), not one per bank.
    assert logins == ["lockers-all", "lockers-all"]
