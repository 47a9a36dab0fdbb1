"""The [[ils]] settings: time zone, idle close, heartbeat off, test item, the down mark."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.config import ConfigError, load_settings
from bridge.infra.ils_connection import server_config, sip_account
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


# --- one SIP login shared by the banks (docs/configuration.md, "Banks sharing one SIP login")

SHARED = {"user": "lockers-all", "password": "pw-all", "location": "CONSORTIUM"}


def _shared(tmp_path: Path, profile: str, own: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Both banks of base_config on an ILS with the shared login; ``own`` keeps these banks'
    own logins."""
    cfg: dict[str, Any] = _ils(tmp_path, profile=profile, institution="DEMO", sip_login=SHARED)
    for bank in cfg["banks"]:
        bank.pop("sip_login")
        if bank["id"] in own:
            bank["sip_login"] = own[bank["id"]]
    return cfg


@pytest.mark.parametrize("profile", ["koha", "evergreen"])
def test_banks_without_a_login_of_their_own_log_in_with_the_ils_s(
    tmp_path: Path, profile: str
) -> None:
    settings = load_settings(None, **_shared(tmp_path, profile, {}))
    ils = settings.ils[0]
    main, east = (sip_account(bank, ils) for bank in settings.banks)
    assert main == east  # one account: the pool shares its sessions
    assert (main.user, main.location, main.institution) == ("lockers-all", "CONSORTIUM", "DEMO")


def test_a_bank_with_its_own_login_keeps_it_beside_the_shared_one(tmp_path: Path) -> None:
    own = {"east-station": {"user": "lockers-east", "password": "demo-east"}}
    settings = load_settings(None, **_shared(tmp_path, "koha", own))
    main, east = (sip_account(bank, settings.ils[0]) for bank in settings.banks)
    assert main.user == "lockers-all"
    assert (east.user, east.location) == ("lockers-east", "EAST-LOCKER")  # the bank's branch


@pytest.mark.parametrize("profile", ["folio", "evergreen-mediator", "generic"])
def test_a_shared_login_where_the_login_decides_the_check_in_location_is_refused(
    tmp_path: Path, profile: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **_shared(tmp_path, profile, {}))
    assert (
        f"banks 'main-lobby' and 'east-station' share the SIP login 'lockers-all' on ILS "
        f"'main-ils', but with the {profile} profile a check-in happens at the login's location"
    ) in str(caught.value)


def test_the_same_login_given_to_banks_at_different_folio_service_points_is_refused(
    tmp_path: Path,
) -> None:
    same = {"user": "lockers", "password": "pw", "location": "SP1"}
    cfg: dict[str, Any] = _ils(tmp_path, profile="folio")
    for bank in cfg["banks"]:
        bank["sip_login"] = same
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **cfg)
    assert "give each bank its own sip_login" in str(caught.value)


def test_a_bank_without_a_login_on_an_ils_without_one_is_refused(tmp_path: Path) -> None:
    cfg: dict[str, Any] = _ils(tmp_path)
    cfg["banks"][0].pop("sip_login")
    with pytest.raises(ConfigError) as caught:
        load_settings(None, **cfg)
    assert "bank 'main-lobby' has no sip_login and ILS 'main-ils' has none to share" in str(
        caught.value
    )
