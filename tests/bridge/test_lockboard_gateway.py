"""One process owns a bank's lock-board line and serves it over MQTT (``driver serve``); the
bridge's processes drive that bank with the ordinary MQTT driver. Real Mosquitto at
127.0.0.1:1883, boards emulated on a pseudo-terminal."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.config import BankSettings, load_settings
from bridge.infra.lockboards import run_gateway
from lockers.drivers.base import DoorClosed, DoorOpened, DoorState, EventQueue, Fault
from lockers.drivers.mqtt import MqttDriver, MqttSettings
from lockers.drivers.serial.emulator import BoardEmulator
from lockers.errors import DoorDidNotOpen
from lockers.signing import Signer, Verifier
from tests.support.config import base_config

KEY = "gateway-test-key-0123456789abcdef"


def now() -> datetime:
    return datetime.now(UTC)


def _bank(tmp_path: Path, port: str, prefix: str) -> BankSettings:
    cfg: dict[str, Any] = base_config(tmp_path)
    cfg["banks"][1]["driver"] = {
        "kind": "mqtt",
        "signing_key": KEY,
        "topic_prefix": prefix,
        "port": port,
        "family": "wkly",
        "poll_interval_seconds": 0.05,
        "reply_timeout_seconds": 0.1,
        "open_confirm_seconds": 0.02,
        "door_ranges": [{"first": 1, "last": 6, "board": 0}],
    }
    return load_settings(None, **cfg).bank("east-station")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[BoardEmulator, MqttDriver, EventQueue]]:
    prefix = f"lbgw-{uuid.uuid4().hex[:10]}"
    with BoardEmulator("wkly", {0: 24}) as boards:
        bank = _bank(tmp_path, boards.path, prefix)
        stop, up = threading.Event(), threading.Event()
        gateway = threading.Thread(
            target=run_gateway,
            args=([bank], stop),
            kwargs={"ready": lambda _bank: up.set()},
            daemon=True,
        )
        gateway.start()
        assert up.wait(5), "the gateway did not subscribe"
        driver = MqttDriver(
            "east-station",
            signer=Signer("east-station", KEY.encode(), now),
            verifier=Verifier({"east-station": KEY.encode()}, now),
            settings=MqttSettings(prefix=prefix, command_timeout=2.0),
        ).start()
        events = EventQueue()
        driver.subscribe(events)
        try:
            yield boards, driver, events
        finally:
            driver.close()
            stop.set()
            gateway.join(timeout=5)


def next_of(events: EventQueue, kind: type) -> Any:
    while True:
        event = events.get(timeout=5)
        if isinstance(event, kind):
            return event


def test_the_bridge_opens_and_reads_doors_through_the_gateway(
    served: tuple[BoardEmulator, MqttDriver, EventQueue],
) -> None:
    boards, driver, events = served

    driver.open_door(4)

    assert boards.is_open(0, 4)
    assert driver.read(4).door is DoorState.OPEN
    assert next_of(events, DoorOpened).compartment == 4
    boards.shut(0, 4)
    assert next_of(events, DoorClosed).compartment == 4
    boards.jam(0, 5)
    with pytest.raises(DoorDidNotOpen):
        driver.open_door(5)


def test_a_door_opened_by_hand_and_a_pulled_line_reach_the_bridge(
    served: tuple[BoardEmulator, MqttDriver, EventQueue],
) -> None:
    boards, _driver, events = served
    threading.Event().wait(0.3)  # the poller's baseline reading
    boards.open_by_hand(0, 2)
    assert next_of(events, DoorOpened).compartment == 2
    boards.unplugged = True
    assert next_of(events, Fault).code == "offline"
    boards.unplugged = False
    assert next_of(events, Fault).code == "recovered"


def test_an_mqtt_bank_with_a_wrong_wiring_is_refused_at_start(tmp_path: Path) -> None:
    from bridge.config import ConfigError

    cfg: dict[str, Any] = base_config(tmp_path)
    cfg["banks"][1]["driver"] = {
        "kind": "mqtt",
        "signing_key": KEY,
        "port": "/dev/ttyUSB0",
        "family": "wkly",
        "door_ranges": [{"first": 1, "last": 5, "board": 0}],
    }
    with pytest.raises(ConfigError, match="compartment 6 has no board and lock"):
        load_settings(None, **cfg)


def test_driver_serve_runs_as_a_service_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.support.config import REPO

    prefix = f"lbgw-{uuid.uuid4().hex[:10]}"
    with BoardEmulator("wkly", {0: 24}) as boards:
        text = (REPO / "examples" / "lockerbridge.toml").read_text()
        east = 'driver = { kind = "simulated" }\ncompartment_ranges = [\n  { first = 1, last = 8'
        assert east in text  # the east-station bank: doors 1..12
        gateway = (
            f'driver = {{ kind = "mqtt", signing_key = "{KEY}", topic_prefix = "{prefix}", '
            f'port = "{boards.path}", family = "wkly", door_ranges = '
            "[{ first = 1, last = 12, board = 0 }] }\ncompartment_ranges = [\n  { first = 1, last = 8"
        )
        config = tmp_path / "lb.toml"
        config.write_text(text.replace(east, gateway))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bridge.entrypoints.cli",
                "-c",
                str(config),
                "driver",
                "serve",
                "--bank",
                "east-station",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LOCKERBRIDGE_LOG_LEVEL": "WARNING"},
        )
        try:
            assert proc.stdout is not None and proc.stderr is not None
            first = proc.stdout.readline()
            assert first.startswith(f"serving bank east-station on {boards.path}"), (
                proc.stderr.read()
            )
            driver = MqttDriver(
                "east-station",
                signer=Signer("east-station", KEY.encode(), now),
                verifier=Verifier({"east-station": KEY.encode()}, now),
                settings=MqttSettings(prefix=prefix, command_timeout=3.0),
            ).start()
            try:
                driver.open_door(9)
            finally:
                driver.close()
            assert boards.is_open(0, 9)
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
