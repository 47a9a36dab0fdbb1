"""The [[ils]] settings: time zone, idle close, heartbeat off, test item, the down mark."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.config import ConfigError, load_settings
from bridge.infra.ils_connection import server_config
from tests.support.config import base_config


def _ils(tmp_path: Path, **values: object) -> dict[str, object]:
    return base_config(tmp_path, ils=[{"name": "main-ils", **values}])


def test_the_catalogue_zone_reaches_the_sip2_connection(tmp_path: Path) -> None:
    settings = load_settings(None, **_ils(tmp_path, timezone="America/Toronto"))
    server = server_config(settings.ils[0])
    assert server.server_tz == ZoneInfo("America/Toronto")
    assert server.send_tz == ZoneInfo("America/Toronto")  # Koha: blank zone, local time


def test_without_a_zone_the_hosts_zone_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    settings = load_settings(None, **_ils(tmp_path))
    assert server_config(settings.ils[0]).server_tz == ZoneInfo("Europe/Berlin")


def test_an_unknown_zone_is_refused_with_a_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **_ils(tmp_path, timezone="Mars/Olympus"))
    assert "ILS 'main-ils': timezone: unknown time zone 'Mars/Olympus'" in str(caught.value)


def test_heartbeat_zero_is_off_and_idle_close_reaches_the_pool(tmp_path: Path) -> None:
    settings = load_settings(
        None, **_ils(tmp_path, heartbeat_seconds=0, idle_close_seconds=45, test_item="T1")
    )
    server = server_config(settings.ils[0])
    assert server.heartbeat_interval is None and server.idle_close == 45
    assert settings.ils[0].test_item == "T1"


def test_the_evergreen_mediator_profile_is_accepted(tmp_path: Path) -> None:
    settings = load_settings(None, **_ils(tmp_path, profile="evergreen-mediator"))
    assert settings.ils[0].profile == "evergreen-mediator"


def test_the_down_mark_defaults_to_twenty_seconds_and_zero_is_refused(tmp_path: Path) -> None:
    assert load_settings(None, **_ils(tmp_path)).ils[0].down_mark_seconds == 20
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **_ils(tmp_path, down_mark_seconds=0))
    assert "down_mark_seconds" in str(caught.value)
