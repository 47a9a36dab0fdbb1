"""Configuration errors read as instructions a librarian can follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_settings
from tests.support.config import base_config


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lockerbridge.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_shipped_example_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "lockerbridge.toml"
    settings = load_settings(example)
    assert settings.banks and settings.ils
    assert all(b.all_compartments() for b in settings.banks)


def test_a_compartment_without_a_size_is_named_by_bank_and_number(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["banks"][0]["compartments"] = [{"number": 12}]
    with pytest.raises(ConfigError) as err:
        load_settings(None, **cfg)
    assert "bank 'main-lobby': compartment 12: size is missing" in str(err.value)


def test_a_bank_naming_an_unknown_ils_is_reported(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["banks"][1]["ils"] = "nowhere"
    with pytest.raises(ConfigError) as err:
        load_settings(None, **cfg)
    assert "bank 'east-station' names ILS 'nowhere'" in str(err.value)


def test_a_misspelt_setting_is_refused_rather_than_ignored(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["banks"][0]["compartment_rangez"] = []
    with pytest.raises(ConfigError) as err:
        load_settings(None, **cfg)
    assert "bank 'main-lobby': compartment_rangez: unknown setting" in str(err.value)


def test_the_same_door_listed_twice_is_refused(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["banks"][0]["compartments"] = [{"number": 3, "size": "M"}]
    with pytest.raises(ConfigError) as err:
        load_settings(None, **cfg)
    assert "compartment 3 is listed twice" in str(err.value)


def test_only_a_return_door_takes_more_than_one_deposit(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["banks"][0]["compartments"] = [{"number": 40, "size": "M", "capacity": 4}]
    with pytest.raises(ConfigError) as err:
        load_settings(None, **cfg)
    assert "only a return door takes more than one deposit (capacity)" in str(err.value)
    cfg["banks"][0]["compartments"] = [
        {"number": 40, "size": "M", "purpose": "return", "capacity": 4}
    ]
    door = load_settings(None, **cfg).bank("main-lobby").all_compartments()[-1]
    assert (door.number, door.capacity) == (40, 4)


def test_broken_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "[web]\nsecret_key = \n")
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert str(p) in str(err.value) and "line 2" in str(err.value)


def test_a_missing_file_is_reported_plainly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKERBRIDGE_DATABASE_URL", "postgresql://db.example/lockers")
    monkeypatch.setenv("LOCKERBRIDGE_WEB__PORT", "9090")
    settings = load_settings(None, **base_config(tmp_path))
    assert settings.database_url == "postgresql://db.example/lockers"
    assert settings.web.port == 9090


def test_secrets_can_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "web_secret"
    secret.write_text("s" * 48 + "\n")
    monkeypatch.setenv("LOCKERBRIDGE_WEB__SECRET_KEY_FILE", str(secret))
    settings = load_settings(None, **base_config(tmp_path))
    assert settings.web.secret_key == "s" * 48


def test_a_missing_secret_file_stops_start_up_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKERBRIDGE_WEB__SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="cannot read secret file .*absent"):
        load_settings(None, **base_config(tmp_path))


def test_a_short_web_secret_is_refused(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["web"]["secret_key"] = "short"
    with pytest.raises(ConfigError, match="web: secret_key: String should have at least 32"):
        load_settings(None, **cfg)
