"""Serial lock-board settings: a wrong wiring is refused at start-up with a line that says
which bank and what to fix; a right one becomes the driver's own settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import ConfigError, load_settings
from bridge.infra.lockboards import serial_config
from tests.support.config import base_config


def _east(tmp_path: Path, **driver: Any) -> dict[str, Any]:
    """east-station has compartments 1..6."""
    cfg = base_config(tmp_path)
    cfg["banks"][1]["driver"] = {
        "kind": "serial",
        "port": "10.0.0.7:4001",
        "family": "wkly",
        **driver,
    }
    return cfg


def _problem(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **cfg)
    return str(info.value)


def test_a_bank_spanning_two_boards_becomes_the_drivers_wiring(tmp_path: Path) -> None:
    cfg = _east(
        tmp_path,
        baud=19200,
        echo=True,
        lock_open_when="clear",
        poll_interval_seconds=0.5,
        door_ranges=[{"first": 1, "last": 4, "board": 2, "first_lock": 9, "sensors": True}],
        doors=[
            {"compartment": 5, "board": 3, "lock": 1},
            {"compartment": 6, "board": 3, "lock": 2, "sensor": 8},
        ],
    )
    settings = load_settings(None, **cfg)

    config = serial_config(settings.bank("east-station").driver)

    assert config.line.url == "10.0.0.7:4001" and config.line.baud == 19200 and config.line.echo
    assert config.family == "wkly"
    assert config.polarity.lock_open_when_set is False
    assert config.polarity.sensor_occupied_when_set is True
    assert config.poll.interval == 0.5 and config.poll.debounce_reads == 2
    wiring = {d.compartment: (d.board, d.lock, d.sensor) for d in config.doors}
    assert wiring == {
        1: (2, 9, 9),
        2: (2, 10, 10),
        3: (2, 11, 11),
        4: (2, 12, 12),
        5: (3, 1, None),
        6: (3, 2, 8),
    }


def test_a_compartment_without_a_lock_is_refused(tmp_path: Path) -> None:
    cfg = _east(tmp_path, door_ranges=[{"first": 1, "last": 5, "board": 1}])
    assert "compartment 6 has no board and lock" in _problem(cfg)
    assert "east-station" in _problem(cfg)


def test_one_lock_wired_to_two_compartments_is_refused(tmp_path: Path) -> None:
    cfg = _east(
        tmp_path,
        door_ranges=[{"first": 1, "last": 5, "board": 1}],
        doors=[{"compartment": 6, "board": 1, "lock": 5}],
    )
    assert "board 1 lock 5 twice" in _problem(cfg)


def test_wiring_an_unknown_compartment_or_missing_port_and_family_is_refused(
    tmp_path: Path,
) -> None:
    cfg = _east(tmp_path, door_ranges=[{"first": 1, "last": 7, "board": 1}])
    assert "compartment 7, which is not configured" in _problem(cfg)
    cfg = _east(tmp_path, door_ranges=[{"first": 1, "last": 6, "board": 1}])
    del cfg["banks"][1]["driver"]["port"]
    del cfg["banks"][1]["driver"]["family"]
    text = _problem(cfg)
    assert "needs a port" in text and "needs a family" in text
    cfg = _east(tmp_path, family="acme", door_ranges=[{"first": 1, "last": 6, "board": 1}])
    assert "family" in _problem(cfg)


def test_the_documented_example_and_the_commented_one_in_the_example_file_load(
    tmp_path: Path,
) -> None:
    import tomllib

    from tests.support.config import REPO

    doc = (REPO / "docs" / "configuration.md").read_text()
    block = doc.split("For example:\n\n", 1)[1].split("\n\n", 1)[0]
    table = "\n".join(line[4:] for line in block.splitlines() if "# ..." not in line)
    documented = tomllib.loads(table)["banks"][0]["driver"]
    example = (REPO / "examples" / "lockerbridge.toml").read_text()
    commented = example.split("instead (docs/drivers.md", 1)[1].split("\n", 1)[1]
    lines = commented.splitlines()[:3]
    inline = tomllib.loads("\n".join(line.removeprefix("# ") for line in lines))["driver"]
    for driver in (documented, inline):
        cfg = base_config(tmp_path)
        cfg["banks"][0]["compartment_ranges"] = [{"first": 1, "last": 32, "size": "M"}]
        cfg["banks"][0]["driver"] = driver
        config = serial_config(load_settings(None, **cfg).bank("main-lobby").driver)
        assert len(config.doors) == 32 and config.line.baud == 19200


def test_every_documented_serial_setting_exists() -> None:
    import re

    from bridge.config import DriverSettings, SerialDoor, SerialDoorRange
    from tests.support.config import REPO

    doc = (REPO / "docs" / "configuration.md").read_text()
    table = doc.split('`kind = "serial"` drives', 1)[1].split("Every compartment", 1)[0]
    names = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert len(names) >= 16
    assert set(names) <= set(DriverSettings.model_fields)
    for row, model in (("`doors`", SerialDoor), ("`door_ranges`", SerialDoorRange)):
        line = next(x for x in table.splitlines() if x.startswith(f"| {row}"))
        braces = re.search(r"\{([^}]*)\}", line.split("|")[3])
        assert braces is not None
        keys = [part.split("=")[0].strip() for part in braces.group(1).split(",")]
        assert keys and set(keys) <= set(model.model_fields), (row, keys)


def test_banks_sharing_a_line_must_agree_and_not_share_a_lock(tmp_path: Path) -> None:
    cfg = _east(tmp_path, door_ranges=[{"first": 1, "last": 6, "board": 1}])
    cfg["banks"][0]["driver"] = {
        "kind": "serial",
        "port": "10.0.0.7:4001",
        "family": "wkly",
        "door_ranges": [{"first": 1, "last": 16, "board": 2}],
    }
    both = load_settings(None, **cfg)  # one board each on the same line: fine
    assert {b.driver.port for b in both.banks} == {"10.0.0.7:4001"}

    cfg["banks"][0]["driver"]["door_ranges"] = [
        {"first": 1, "last": 16, "board": 1, "first_lock": 6}
    ]
    assert "board 1 lock 6 on 10.0.0.7:4001 is wired in banks 'main-lobby' and 'east-station'" in (
        _problem(cfg)
    )
    cfg["banks"][0]["driver"]["door_ranges"] = [{"first": 1, "last": 16, "board": 2}]
    cfg["banks"][0]["driver"]["family"] = "xor8a"
    assert "share 10.0.0.7:4001 but not its kind, family, baud and echo" in _problem(cfg)
