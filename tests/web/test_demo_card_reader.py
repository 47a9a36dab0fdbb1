"""The demo's simulated bank has a card reader: the shipped demo configuration names it, and a
card held to it from the "Messages sent (demo)" page makes the kiosk ask for the PIN, which
then opens the patron's door."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings, load_settings
from bridge.entrypoints.demo import write_config
from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role
from tests.web.conftest import Account, csrf_from, load_for_pickup, sign_in, web_config

CARD, PIN = "21000001", "4321"


def test_the_demo_configuration_has_a_card_reader_and_return_bins(tmp_path: Path) -> None:
    path = write_config(tmp_path, web_port=8080, acs_port=6001, redis_url="redis://127.0.0.1:1/0")
    settings = load_settings(path)
    main = settings.bank("main-lobby")
    assert main.driver.kind == "simulated" and main.driver.card_reader == "front-reader"
    bins = [c for c in main.all_compartments() if c.purpose.value == "return"]
    assert bins and all(c.capacity == 5 for c in bins)
    assert settings.demo_mailbox is not None


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    cfg = web_config(tmp_path)
    cfg["demo_mailbox"] = str(tmp_path / "mail")
    main = cfg["banks"][0]
    assert main["id"] == "main-lobby"
    main["driver"] = {"kind": "simulated", "card_reader": "front-reader"}
    return load_settings(None, **cfg)


def test_a_card_held_to_the_simulated_reader_asks_for_the_pin_and_opens_the_door(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any, accounts: dict[Role, Account]
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000801", title="Kindred")
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/demo/messages").get_data(as_text=True)
    assert "Card reader at Main Library lobby (simulation)" in page
    assert "East" not in page.split("Messages sent (demo)</h1>")[1].split("<ul")[0]
    assert client.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}

    resp = client.post(
        "/staff/demo/card-reader",
        data={"bank": "main-lobby", "card": CARD, "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 302
    assert "its kiosk now asks for the PIN" in client.get("/staff/demo/messages").get_data(
        as_text=True
    )
    assert client.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "waiting_for_pin"}
    prompt = client.get("/kiosk/main-lobby/reader").get_data(as_text=True)
    resp = client.post(
        "/kiosk/main-lobby/reader", data={"pin": PIN, "csrf_token": csrf_from(prompt)}
    )
    assert f"Door {loaded.compartment} is open" in resp.get_data(as_text=True)
    assert doors["main-lobby"].is_open(loaded.compartment)

    # A bank with no reader has none to hold a card to.
    resp = client.post(
        "/staff/demo/card-reader",
        data={"bank": "east-station", "card": CARD, "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 404


def test_viewers_cannot_hold_a_card_to_the_reader(
    client: FlaskClient, doors: Any, accounts: dict[Role, Account]
) -> None:
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/demo/messages").get_data(as_text=True)
    assert "Hold the card to the reader" not in page
    resp = client.post(
        "/staff/demo/card-reader",
        data={"bank": "main-lobby", "card": CARD, "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 403
    assert client.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}
