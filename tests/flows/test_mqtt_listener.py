"""MQTT controllers through the real Mosquitto at 127.0.0.1:1883 (a unique topic prefix per
test): the listener applies signed events once however many processes listen, rejects and
audits forged and replayed ones, and ``lockerbridge worker`` starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.controllers import start_mqtt_listeners
from bridge.services.loading import ScanOutcome, scan_item
from bridge.services.wiring import driver_for
from bridge.storage.db import make_engine, session_factory, unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.base import DoorClosed, DoorOpened, DriverEvent
from lockers.drivers.mqtt import MqttDevice, MqttSettings
from lockers.drivers.simulated import SimTiming, SimulatedBank
from lockers.drivers.wire import encode_events
from lockers.signing import Signer, Verifier
from tests.flows.conftest import messages, state_of
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

KEY = b"controller-key-0123456789abcdef"
BANK = "main-lobby"


def _broker_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


if not _broker_up():
    if os.environ.get("CI"):
        raise RuntimeError("Mosquitto at 127.0.0.1:1883 is required in CI")
    pytest.skip("Mosquitto at 127.0.0.1:1883 is not running", allow_module_level=True)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def prefix() -> str:
    return f"lbtest-{uuid.uuid4().hex[:12]}"


def mqtt_config(tmp_path: Path, prefix: str) -> dict[str, Any]:
    cfg = flow_config(tmp_path)
    cfg["banks"][0]["driver"] = {
        "kind": "mqtt",
        "broker_host": "127.0.0.1",
        "broker_port": 1883,
        "topic_prefix": prefix,
        "signing_key": KEY.decode(),
    }
    return cfg


@pytest.fixture
def mqtt_settings(tmp_path: Path, prefix: str) -> Settings:
    return load_settings(None, **mqtt_config(tmp_path, prefix))


class Broker:
    """A raw client on the test's topics: publishes whatever a test (or an attacker) wants."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{prefix}")
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()

    def publish(self, payload: bytes) -> None:
        self.client.publish(f"{self.prefix}/{BANK}/evt", payload, qos=1).wait_for_publish(5)

    def signed(self, events: list[DriverEvent], key: bytes = KEY) -> bytes:
        return Signer(BANK, key, _now).sign("evt", encode_events(events)).envelope()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def broker(prefix: str) -> Iterator[Broker]:
    spy = Broker(prefix)
    yield spy
    spy.close()


@pytest.fixture
def device(prefix: str, clock: Clock) -> Iterator[SimulatedBank]:
    """The controller: a simulated bank behind Mosquitto, answering signed commands."""
    sim = SimulatedBank(BANK, range(1, 17), timing=SimTiming(0.0, 0.0), clock=clock)
    dev = MqttDevice(
        sim,
        signer=Signer(BANK, KEY, clock),
        verifier=Verifier({BANK: KEY}, clock),
        settings=MqttSettings(prefix=prefix),
    ).start()
    yield sim
    dev.close()


def _runtime(settings: Settings, engine: Engine, redis: Any, clock: Clock, ils: Any) -> Runtime:
    return make_runtime(settings, engine, redis, clock, ils)


@pytest.fixture
def listeners(
    mqtt_settings: Settings, sqlite_engine: Engine, redis_conn: Any, clock: Clock, ils: MemoryIls
) -> Iterator[list[Runtime]]:
    """Two runtimes as two worker processes would have them, both listening."""
    runtimes = [_runtime(mqtt_settings, sqlite_engine, redis_conn, clock, ils) for _ in range(2)]
    yield runtimes
    for rt in runtimes:
        for key in list(rt._cache):
            if key.startswith("driver:"):
                rt._cache[key].close()


def _rejections(rt: Runtime) -> list[str]:
    with unit_of_work(rt.sessions) as s:
        return [
            d["reason"]
            for d in s.scalars(
                select(AuditEventRow.detail)
                .where(AuditEventRow.kind == "controller_message_rejected")
                .order_by(AuditEventRow.id)
            )
        ]


def _door_open(rt: Runtime, number: int) -> bool:
    with unit_of_work(rt.sessions) as s:
        return bool(
            s.scalars(
                select(CompartmentRow.door_open).where(
                    CompartmentRow.bank_id == BANK, CompartmentRow.number == number
                )
            ).one()
        )


def test_a_signed_door_closed_event_loads_the_door_once_with_two_listeners(
    listeners: list[Runtime], device: SimulatedBank, broker: Broker, ils: MemoryIls
) -> None:
    rt, sibling = listeners
    assert start_mqtt_listeners(rt) == [BANK] and start_mqtt_listeners(sibling) == [BANK]
    applied: list[tuple[str, DriverEvent]] = []
    for name, runtime in (("first", rt), ("second", sibling)):
        driver_for(runtime, BANK).subscribe(lambda e, n=name: applied.append((n, e)))
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")

    scanned = scan_item(rt, BANK, "B1", "staff")  # cmd/open and its ack through the broker

    assert scanned.outcome is ScanOutcome.DOOR_OPEN, scanned
    door = scanned.compartment or 0
    device.put_item(door)
    assert device.close_door(door)  # the controller publishes a signed door-closed event

    assert eventually(lambda: state_of(rt, door) == "loaded")
    assert eventually(lambda: len(messages(rt)) == 1)
    assert eventually(lambda: sum(isinstance(e, DoorClosed) for _, e in applied) == 1)
    time.sleep(0.3)  # a second application would arrive by now
    assert [type(e).__name__ for _, e in applied].count("DoorClosed") == 1
    assert len(messages(rt)) == 1
    assert _rejections(rt) == []  # a sibling's copy is not mistaken for a replay


def test_forged_and_replayed_events_are_rejected_and_audited(
    listeners: list[Runtime], broker: Broker, clock: Clock
) -> None:
    rt = listeners[0]
    assert start_mqtt_listeners(rt) == [BANK]
    genuine = broker.signed([DoorOpened(BANK, 3, clock())])
    broker.publish(genuine)
    assert eventually(lambda: _door_open(rt, 3))

    broker.publish(broker.signed([DoorOpened(BANK, 4, clock())], key=b"not-the-key-0123456789"))
    broker.publish(genuine)  # captured and sent again
    broker.publish(b'{"bank": "main-lobby", "channel": "evt"}')

    assert eventually(lambda: len(_rejections(rt)) == 3)
    assert _rejections(rt) == ["ForgedMessage", "ReplayedMessage", "MalformedMessage"]
    assert not _door_open(rt, 4)
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(
            select(AuditEventRow).where(AuditEventRow.kind == "controller_message_rejected")
        ).all()
        assert {(r.bank_id, r.detail["via"]) for r in rows} == {(BANK, "mqtt")}
        assert KEY.decode() not in json.dumps([r.detail for r in rows])


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for a test configuration (tables, arrays of tables, JSON-like scalars)."""
    plain = {k: v for k, v in data.items() if not isinstance(v, dict | list) or _scalars(v)}
    out = "".join(f"{k} = {json.dumps(v)}\n" for k, v in plain.items())
    for key, value in data.items():
        if isinstance(value, dict):
            out += f"\n[{prefix}{key}]\n" + _toml(value, f"{prefix}{key}.")
        elif isinstance(value, list) and not _scalars(value):
            for item in value:
                out += f"\n[[{prefix}{key}]]\n" + _toml(item, f"{prefix}{key}.")
    return out


def _scalars(value: Any) -> bool:
    return isinstance(value, list) and not any(isinstance(v, dict) for v in value)


def test_the_worker_process_starts_the_mqtt_listener(
    tmp_path: Path,
    prefix: str,
    broker: Broker,
    sqlite_template: Path,
    embedded_redis: Any,
    redis_conn: Any,
) -> None:
    cfg = mqtt_config(tmp_path, prefix)
    db = tmp_path / "worker.db"
    db.write_bytes(sqlite_template.read_bytes())
    cfg["database_url"] = f"sqlite:///{db}"
    cfg["redis_url"] = embedded_redis.url
    config = tmp_path / "lockerbridge.toml"
    config.write_text(_toml(cfg), encoding="utf-8")
    env = {**os.environ, "LOCKERBRIDGE_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "bridge.entrypoints.cli", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    engine = make_engine(cfg["database_url"])
    sessions = session_factory(engine)

    def opened() -> bool:
        # Fresh events until the worker has subscribed (retained nothing: QoS 1, no retain).
        broker.publish(broker.signed([DoorOpened(BANK, 5, _now())]))
        with unit_of_work(sessions) as s:
            row = s.scalars(
                select(CompartmentRow).where(
                    CompartmentRow.bank_id == BANK, CompartmentRow.number == 5
                )
            ).one_or_none()
            return row is not None and row.door_open

    try:
        assert eventually(opened, timeout=30), (worker.poll(), worker.stderr)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        assert worker.stderr is not None
        worker.stderr.close()
        engine.dispose()
