"""The MQTT driver against the real Mosquitto at 127.0.0.1:1883, one topic prefix per test."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lockers.drivers.base import CardRead, DoorOpened, DoorState, EventQueue
from lockers.drivers.mqtt import MqttDevice, MqttDriver, MqttSettings, topic
from lockers.drivers.simulated import SimFault, SimTiming, SimulatedBank
from lockers.drivers.wire import encode_events
from lockers.errors import ControllerOffline, DoorDidNotOpen
from lockers.signing import Signer, Verifier

KEYS = {"b1": b"mqtt-test-key-bank-1-0123456789"}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Rig:
    sim: SimulatedBank
    driver: MqttDriver
    device: MqttDevice
    settings: MqttSettings
    events: EventQueue


def wait_for(predicate: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def rig() -> Iterator[Rig]:
    settings = MqttSettings(prefix=f"lbtest-{uuid.uuid4().hex[:10]}", command_timeout=1.0)
    sim = SimulatedBank("b1", range(1, 5), timing=SimTiming(open_delay=0.02, read_delay=0.0))
    device = MqttDevice(
        sim, signer=Signer("b1", KEYS["b1"], now), verifier=Verifier(KEYS, now), settings=settings
    ).start()
    driver = MqttDriver(
        "b1", signer=Signer("b1", KEYS["b1"], now), verifier=Verifier(KEYS, now), settings=settings
    ).start()
    events = EventQueue()
    driver.subscribe(events)
    try:
        yield Rig(sim, driver, device, settings, events)
    finally:
        driver.close()
        device.close()


class RawClient:
    """A plain MQTT client playing an attacker on the same broker."""

    def __init__(self, settings: MqttSettings, listen: str | None = None) -> None:
        self.received: queue.Queue[bytes] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        ready = threading.Event()
        self.client.on_message = lambda c, u, m: self.received.put(bytes(m.payload))
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(settings.host, settings.port)
        self.client.loop_start()
        if listen:
            self.client.subscribe(listen, qos=1)
            assert ready.wait(3)

    def publish(self, name: str, payload: bytes) -> None:
        self.client.publish(name, payload, qos=1).wait_for_publish(3)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_opening_a_door_over_mqtt_opens_it_and_the_event_comes_back(rig: Rig) -> None:
    rig.driver.open_door(2)
    assert rig.sim.is_open(2)
    event = rig.events.get(timeout=3)
    assert isinstance(event, DoorOpened) and (event.bank_id, event.compartment) == ("b1", 2)


def test_reading_a_door_over_mqtt_reports_door_and_occupancy(rig: Rig) -> None:
    rig.sim.open_door(1)
    rig.sim.put_item(1)
    rig.sim.close_door(1)
    reading = rig.driver.read(1)
    assert (reading.door, reading.occupied) == (DoorState.CLOSED, True)


def test_a_jammed_door_is_reported_as_did_not_open(rig: Rig) -> None:
    rig.sim.set_fault(SimFault.JAMMED, 3)
    with pytest.raises(DoorDidNotOpen, match="jammed"):
        rig.driver.open_door(3)


def test_an_offline_controller_times_out_as_offline(rig: Rig) -> None:
    rig.sim.set_fault(SimFault.OFFLINE)
    with pytest.raises(ControllerOffline):
        rig.driver.open_door(1)
    assert not rig.sim.is_open(1)


def test_a_card_read_at_the_bank_reaches_the_driver(rig: Rig) -> None:
    rig.sim.present_card("21234000567890")
    event = rig.events.get(timeout=3)
    assert isinstance(event, CardRead) and event.credential == "21234000567890"


def test_a_forged_door_closed_event_is_dropped(rig: Rig) -> None:
    attacker = RawClient(rig.settings)
    try:
        from lockers.drivers.base import DoorClosed

        body = encode_events([DoorClosed("b1", 1, now())])
        forged = Signer("b1", b"guessed-key-0000000000000000000", now).sign("evt", body)
        attacker.publish(topic(rig.settings, "b1", "evt"), forged.envelope())
        attacker.publish(topic(rig.settings, "b1", "evt"), b'{"events":[]}')
        assert wait_for(lambda: rig.driver.rejected == 2)
        assert rig.events.empty()
    finally:
        attacker.close()


def test_a_replayed_event_is_dropped(rig: Rig) -> None:
    listener = RawClient(rig.settings, listen=topic(rig.settings, "b1", "evt"))
    try:
        rig.sim.present_card("21234000567890")
        captured = listener.received.get(timeout=3)
        assert isinstance(rig.events.get(timeout=3), CardRead)
        listener.publish(topic(rig.settings, "b1", "evt"), captured)
        assert wait_for(lambda: rig.driver.rejected == 1)
        assert rig.events.empty()
    finally:
        listener.close()


def test_a_stale_event_is_dropped(rig: Rig) -> None:
    attacker = RawClient(rig.settings)
    try:
        old = lambda: now() - timedelta(minutes=5)  # noqa: E731
        body = encode_events([DoorOpened("b1", 1, old())])
        stale = Signer("b1", KEYS["b1"], old).sign("evt", body)
        attacker.publish(topic(rig.settings, "b1", "evt"), stale.envelope())
        assert wait_for(lambda: rig.driver.rejected == 1)
        assert rig.events.empty()
    finally:
        attacker.close()


def test_the_controller_ignores_a_forged_open_command(rig: Rig) -> None:
    attacker = RawClient(rig.settings)
    try:
        from lockers.drivers.wire import Command

        forged = Signer("b1", b"guessed-key-0000000000000000000", now).sign(
            "cmd/open", Command("x", 1).encode()
        )
        attacker.publish(topic(rig.settings, "b1", "cmd/open"), forged.envelope())
        assert wait_for(lambda: rig.device.rejected == 1)
        assert not rig.sim.is_open(1)
    finally:
        attacker.close()
