"""Start-up failures end in one readable line and a non-zero exit; nothing hangs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.config import EXAMPLE_SECRETS, REPO


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "bridge.entrypoints.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _config(tmp_path: Path, **replace: str) -> Path:
    text = (REPO / "examples" / "lockerbridge.toml").read_text()
    text = text.replace(
        'database_url = "sqlite:///var/lockerbridge.db"',
        f'database_url = "sqlite:///{tmp_path}/lb.db"',
    )
    for old, new in replace.items():
        text = text.replace(old, new)
    p = tmp_path / "lb.toml"
    p.write_text(text)
    return p


def test_check_config_accepts_the_example_once_its_secrets_are_set(tmp_path: Path) -> None:
    out = _run("-c", str(_config(tmp_path, **EXAMPLE_SECRETS)), "check-config", "--no-ils")
    assert out.returncode == 0, out.stderr
    assert "configuration OK: 2 bank(s)" in out.stdout


def test_check_config_refuses_the_examples_placeholder_secrets(tmp_path: Path) -> None:
    out = _run("-c", str(_config(tmp_path)), "check-config", "--no-ils")
    assert out.returncode == 1
    assert "web.secret_key is a placeholder" in out.stderr
    assert "security.code_keys[0] is a placeholder" in out.stderr


def test_check_config_refuses_a_placeholder_presence_key(tmp_path: Path) -> None:
    placeholder = 'presence_key = "change-me-presence-key-0123456789abcdef"'
    cfg = _config(
        tmp_path, **EXAMPLE_SECRETS, **{'# presence_key = "<at least 32 random characters>"': placeholder}
    )
    out = _run("-c", str(cfg), "check-config", "--no-ils")
    assert out.returncode == 1
    assert "security.presence_key is a placeholder" in out.stderr
    assert "code_keys" not in out.stderr  # the real code key is accepted


def test_a_broken_config_names_the_problem_and_exits_non_zero(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path, **{'{ first = 13, last = 20, size = "M" }': "{ first = 13, last = 20 }"}
    )
    out = _run("-c", str(cfg), "check-config")
    assert out.returncode == 2
    assert "bank 'main-lobby': compartment_ranges: 1: size is missing" in out.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    out = _run(
        "-c",
        str(cfg),
        "db",
        "upgrade",
        env={"LOCKERBRIDGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"},
    )
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: database") and "unreachable" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_an_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    out = _run(
        "-c",
        str(_config(tmp_path)),
        "check-config",
        "--no-ils",
        env={"LOCKERBRIDGE_REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    assert out.returncode == 1
    assert "Redis at redis://127.0.0.1:1/0 is unreachable" in out.stderr


def test_db_upgrade_creates_the_schema_once(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert _run("-c", str(cfg), "db", "upgrade").returncode == 0
    again = _run("-c", str(cfg), "db", "upgrade")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_db_upgrade_brings_the_banks_in_step_with_the_configuration(tmp_path: Path) -> None:
    import sqlite3

    cfg = _config(tmp_path)
    out = _run("-c", str(cfg), "db", "upgrade")
    assert out.returncode == 0, out.stderr
    assert "2 bank(s) with 44 compartment(s)" in out.stdout
    with sqlite3.connect(tmp_path / "lb.db") as db:
        counts = dict(db.execute("SELECT bank_id, count(*) FROM compartment GROUP BY bank_id"))
    assert counts == {"main-lobby": 32, "east-station": 12}


def test_processes_of_one_installation_share_the_embedded_redis(tmp_path: Path) -> None:
    from bridge.infra.redis_conn import embedded_for

    url = f"sqlite:///{tmp_path}/lb.db"
    code = (
        "from bridge.infra.redis_conn import embedded_for, connect; import sys;"
        f"connect(embedded_for({url!r})).set('shared', 'yes')"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60).returncode == 0
    from bridge.infra.redis_conn import connect

    assert connect(embedded_for(url)).get("shared") == b"yes"


def test_the_sip2_and_acs_subcommands_take_their_own_options(tmp_path: Path) -> None:
    out = _run(
        "sip2", "ping", "--host", "127.0.0.1", "--port", "1", "--user", "u", "--password", "p"
    )
    assert "unrecognized arguments" not in out.stderr
    assert out.returncode != 0  # nothing listens on port 1, and it says so


def test_a_door_left_out_of_the_configuration_goes_out_of_service_and_comes_back(
    tmp_path: Path,
) -> None:
    import sqlite3

    def doors() -> dict[int, tuple[str, str | None]]:
        with sqlite3.connect(tmp_path / "lb.db") as db:
            rows = db.execute(
                "SELECT number, state, fault FROM compartment"
                " WHERE bank_id = 'main-lobby' AND number IN (11, 12, 27, 28)"
            )
            return {number: (state, fault) for number, state, fault in rows}

    full = _config(tmp_path)
    assert _run("-c", str(full), "db", "upgrade").returncode == 0
    shorter = _config(
        tmp_path,
        **{
            '{ first = 1, last = 12, size = "S" }': '{ first = 1, last = 10, size = "S" }',
            '{ first = 25, last = 28, size = "M", purpose = "return" }':
                '{ first = 25, last = 26, size = "M", purpose = "return" }',
        },
    )  # fmt: skip
    out = _run("-c", str(shorter), "db", "upgrade")
    assert out.returncode == 0, out.stderr
    removed = ("out_of_service", "removed from configuration")
    assert doors() == {11: removed, 12: removed, 27: removed, 28: removed}
    assert _run("-c", str(_config(tmp_path)), "db", "upgrade").returncode == 0
    assert doors() == {
        11: ("free", None),
        12: ("free", None),
        27: ("return_free", None),
        28: ("return_free", None),
    }
