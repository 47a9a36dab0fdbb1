"""``lockerbridge driver probe`` against boards emulated on a pseudo-terminal, run as the
installer runs it: a separate process, stdin a pipe (no TTY), answers typed on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import load_settings
from lockers.drivers.serial.emulator import BoardEmulator
from tests.support.config import REPO, base_config


def probe(
    *args: str, stdin: str = "", config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    head = ["-c", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "bridge.entrypoints.cli", *head, "driver", "probe", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOCKERBRIDGE_LOG_LEVEL": "WARNING"},
    )


@pytest.fixture
def boards() -> Iterator[BoardEmulator]:
    with BoardEmulator("xor8a", {1: 24, 3: 24}, sensors=False) as emulator:
        emulator.open_by_hand(3, 7)
        yield emulator


def test_probe_finds_the_boards_lists_their_locks_and_prints_the_configuration(
    boards: BoardEmulator, tmp_path: Path
) -> None:
    out = probe("--port", boards.path, "--family", "xor8a", "--boards", "0-4")

    assert out.returncode == 0, out.stderr
    assert "board 1: 24 locks; inputs set (open): none" in out.stdout
    assert "board 3: 24 locks; inputs set (open): 7" in out.stdout
    assert "board 0" not in out.stdout and "board 2" not in out.stdout
    assert boards.opens() == []
    snippet = out.stdout.split("(adjust compartment numbers):\n", 1)[1]
    driver = tomllib.loads(snippet)["banks"]["driver"]
    assert driver["port"] == boards.path and driver["family"] == "xor8a"
    assert [(r["first"], r["last"], r["board"]) for r in driver["door_ranges"]] == [
        (1, 24, 1),
        (25, 48, 3),
    ]
    # what it prints is a valid driver table for a bank of 48 doors
    cfg = base_config(tmp_path)
    cfg["banks"][0]["compartment_ranges"] = [{"first": 1, "last": 48, "size": "M"}]
    cfg["banks"][0]["driver"] = driver
    assert len(load_settings(None, **cfg).banks[0].driver.all_doors()) == 48


def test_probe_opens_a_named_lock_only_after_a_yes(boards: BoardEmulator) -> None:
    declined = probe(
        "--port", boards.path, "--family", "xor8a", "--boards", "1", "--open", "1:5", stdin="n\n"
    )
    assert declined.returncode == 0, declined.stderr
    assert "not opened" in declined.stdout
    assert boards.opens() == [] and not boards.is_open(1, 5)

    agreed = probe(
        "--port", boards.path, "--family", "xor8a", "--boards", "1", "--open", "1:5", stdin="y\n"
    )
    assert agreed.returncode == 0, agreed.stderr
    assert "Open board 1 lock 5 now?" in agreed.stdout
    assert "board 1 lock 5: opened, lock input now set (open)" in agreed.stdout
    assert boards.opens() == [(1, 5)] and boards.is_open(1, 5)


def test_probe_of_a_configured_bank_opens_a_compartment_with_yes(
    boards: BoardEmulator, tmp_path: Path
) -> None:
    # The example configuration, its main-lobby bank (32 doors) wired across two boards.
    text = (REPO / "examples" / "lockerbridge.toml").read_text()
    simulated = 'driver = { kind = "simulated" }'
    serial = (
        f'driver = {{ kind = "serial", port = "{boards.path}", family = "xor8a", door_ranges = ['
        "{ first = 1, last = 24, board = 3 }, { first = 25, last = 32, board = 1 }] }"
    )
    config = tmp_path / "lb.toml"
    config.write_text(text.replace(simulated, serial, 1))

    out = probe("--bank", "main-lobby", "--boards", "1-3", "--door", "26", "--yes", config=config)

    assert out.returncode == 0, out.stderr + out.stdout
    assert "wired to compartments 1..24 (24)" in out.stdout
    assert "wired to compartments 25..32 (8)" in out.stdout
    assert boards.opens() == [(1, 2)] and boards.is_open(1, 2)


def test_probe_without_a_board_or_with_bad_arguments_says_what_to_check(tmp_path: Path) -> None:
    with BoardEmulator("wkly", {}) as nothing:
        out = probe("--port", nothing.path, "--family", "wkly", "--boards", "0-2")
    assert out.returncode == 1
    assert "no board answered" in out.stdout and "A/B wiring" in out.stdout
    out = probe("--port", "/dev/does-not-exist", "--family", "xor8a", "--boards", "1")
    assert out.returncode == 2 and "cannot open /dev/does-not-exist" in out.stderr
    out = probe("--family", "xor8a")
    assert out.returncode == 2 and "give --bank, or --port and --family" in out.stderr
