"""``web.trusted_proxies``: whose ``X-Forwarded-For`` is believed, seen through the limits that
key on the client's address (wrong presence numbers on the phone's day-use page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings, load_settings
from tests.web.conftest import csrf_from, web_config


@pytest.fixture
def trusted() -> Any:
    return 0


@pytest.fixture
def web_settings(tmp_path: Path, trusted: Any) -> Settings:
    cfg = web_config(tmp_path, trusted_proxies=trusted)
    cfg["dayuse"] = {"compartments": {"main-lobby": [11, 12]}}
    return load_settings(None, **cfg)


def _wrong_number(client: FlaskClient, forwarded_for: str) -> int:
    headers = {"X-Forwarded-For": forwarded_for}
    page = client.get("/phone/dayuse/main-lobby", headers=headers).get_data(as_text=True)
    return client.post(
        "/phone/dayuse/main-lobby",
        data={"card": "21000001", "pin": "4321", "code": "000000", "csrf_token": csrf_from(page)},
        headers=headers,
    ).status_code


def test_without_a_trusted_proxy_a_forged_forwarded_for_buys_no_fresh_budget(
    stranger: FlaskClient, ils: Any, doors: Any
) -> None:
    statuses = [_wrong_number(stranger, f"203.0.113.{n}") for n in range(6)]
    assert statuses == [422] * 5 + [429]


@pytest.mark.parametrize("trusted", [["127.0.0.1"], 1])
def test_behind_a_trusted_proxy_each_real_client_has_its_own_budget(
    stranger: FlaskClient, ils: Any, doors: Any
) -> None:
    assert [_wrong_number(stranger, "203.0.113.1") for _ in range(6)] == [422] * 5 + [429]
    assert _wrong_number(stranger, "203.0.113.2") == 422


@pytest.mark.parametrize("trusted", [["10.0.0.0/8"]])
def test_forwarded_for_from_a_peer_outside_the_listed_proxies_is_ignored(
    stranger: FlaskClient, ils: Any, doors: Any
) -> None:
    statuses = [_wrong_number(stranger, f"203.0.113.{n}") for n in range(6)]
    assert statuses == [422] * 5 + [429]
