"""MQTT driver: commands and events through a broker, every message signed (lockers.signing).

Topics, for bank ``<bank>`` under ``<prefix>`` (default "lockerbridge"):

    <prefix>/<bank>/cmd/open   middleware -> controller  {"cmd_id", "compartment"}
    <prefix>/<bank>/cmd/read   middleware -> controller  {"cmd_id", "compartment"}
    <prefix>/<bank>/ack        controller -> middleware  {"cmd_id", "compartment", "ok", "error",
                                                          "door", "occupied"}
    <prefix>/<bank>/evt        controller -> middleware  {"events": [...]}

The payload of each is a signed envelope (``SignedMessage.envelope``) whose channel is the
topic after the bank ("cmd/open", "ack", ...). ``MqttDevice`` is the controller side, bridging
any ``LockerDriver``: a ``SimulatedBank`` (demo, tests; a reference for vendors) or the serial
lock-board driver in the one process that owns the boards' line (``lockerbridge driver serve``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lockers.drivers.base import (
    CompartmentReading,
    Dispatcher,
    DriverEvent,
    EventHandler,
    LockerDriver,
)
from lockers.drivers.wire import Ack, Command, decode_events, encode_events
from lockers.errors import (
    ControllerOffline,
    DoorDidNotOpen,
    DriverError,
    ForgedMessage,
    LockerError,
    SignatureError,
)
from lockers.signing import SignedMessage, Signer, Verifier

log = logging.getLogger(__name__)

CMD_OPEN = "cmd/open"
CMD_READ = "cmd/read"
ACK = "ack"
EVT = "evt"


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "lockerbridge"
    username: str | None = None
    password: str | None = None
    tls_ca_file: str | None = None
    connect_timeout: float = 5.0
    command_timeout: float = 5.0


def topic(settings: MqttSettings, bank_id: str, channel: str) -> str:
    return f"{settings.prefix}/{bank_id}/{channel}"


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    ack: Ack | None = None


class _Connection:
    """One paho client, connected and subscribed before ``start`` returns."""

    def __init__(
        self, settings: MqttSettings, topics: list[str], on_message: mqtt.CallbackOnMessage
    ) -> None:
        self.settings = settings
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"lb-{uuid.uuid4().hex[:12]}"
        )
        if settings.username is not None:
            self.client.username_pw_set(settings.username, settings.password)
        if settings.tls_ca_file is not None:
            self.client.tls_set(ca_certs=settings.tls_ca_file)
        self._topics = topics
        self._ready = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = on_message

    def start(self) -> None:
        """Raises ``ControllerOffline`` when the broker cannot be reached in time."""
        try:
            self.client.connect(self.settings.host, self.settings.port, keepalive=30)
        except OSError as exc:
            raise ControllerOffline(f"MQTT broker unreachable: {exc}") from exc
        self.client.loop_start()
        if not self._ready.wait(self.settings.connect_timeout):
            self.stop()
            raise ControllerOffline("MQTT broker did not confirm the subscription in time")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic_name: str, payload: bytes) -> None:
        info = self.client.publish(topic_name, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ControllerOffline(f"MQTT publish failed: {mqtt.error_string(info.rc)}")

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        # Subscribing in on_connect renews the subscriptions after a reconnect.
        client.subscribe([(name, 1) for name in self._topics])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, reasons: object, props: object
    ) -> None:
        self._ready.set()


class MqttDriver:
    """``LockerDriver`` for a controller reachable through an MQTT broker."""

    def __init__(
        self,
        bank_id: str,
        *,
        signer: Signer,
        verifier: Verifier,
        settings: MqttSettings | None = None,
    ) -> None:
        self.bank_id = bank_id
        self.settings = settings or MqttSettings()
        self.rejected = 0
        self._signer = signer
        self._verifier = verifier
        self._dispatcher = Dispatcher()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._conn = _Connection(
            self.settings,
            [topic(self.settings, bank_id, ACK), topic(self.settings, bank_id, EVT)],
            self._on_message,
        )

    def start(self) -> MqttDriver:
        self._conn.start()
        return self

    def close(self) -> None:
        self._conn.stop()

    def subscribe(self, handler: EventHandler) -> None:
        self._dispatcher.subscribe(handler)

    def open_door(self, compartment: int) -> None:
        ack = self._command(CMD_OPEN, compartment)
        if ack.error is not None:
            raise DoorDidNotOpen(compartment, ack.error)

    def read(self, compartment: int) -> CompartmentReading:
        ack = self._command(CMD_READ, compartment)
        if ack.error is not None:
            raise DriverError(f"read of door {compartment} failed: {ack.error}")
        return ack.reading()

    def _command(self, channel: str, compartment: int) -> Ack:
        command = Command(uuid.uuid4().hex, compartment)
        pending = _Pending()
        with self._lock:
            self._pending[command.cmd_id] = pending
        try:
            message = self._signer.sign(channel, command.encode())
            self._conn.publish(topic(self.settings, self.bank_id, channel), message.envelope())
            if not pending.done.wait(self.settings.command_timeout) or pending.ack is None:
                raise ControllerOffline(f"no answer from {self.bank_id} to {channel}")
            return pending.ack
        finally:
            with self._lock:
                self._pending.pop(command.cmd_id, None)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        channel = msg.topic.rsplit("/", 1)[-1]
        try:
            message = self._verifier.verify_envelope(bytes(msg.payload), channel)
            if message.bank_id != self.bank_id:
                raise ForgedMessage(f"message of bank {message.bank_id!r} on {msg.topic}")
            if channel == ACK:
                self._resolve(Ack.decode(message.body))
            else:
                for event in decode_events(self.bank_id, message.body):
                    self._dispatcher.emit(event)
        except SignatureError as exc:
            self.rejected += 1
            log.warning("dropped MQTT message on %s: %s", msg.topic, type(exc).__name__)

    def _resolve(self, ack: Ack) -> None:
        with self._lock:
            pending = self._pending.get(ack.cmd_id)
        if pending is None:
            log.info("ack for unknown or timed-out command on %s", self.bank_id)
            return
        pending.ack = ack
        pending.done.set()


class MqttDevice:
    """The controller side over MQTT, driving a local ``LockerDriver``: answers signed commands
    with signed acks and publishes the bank's events."""

    def __init__(
        self,
        sim: LockerDriver,
        *,
        signer: Signer,
        verifier: Verifier,
        settings: MqttSettings | None = None,
    ) -> None:
        self.sim = sim
        self.settings = settings or MqttSettings()
        self.rejected = 0
        self._signer = signer
        self._verifier = verifier
        self._conn = _Connection(
            self.settings,
            [
                topic(self.settings, sim.bank_id, CMD_OPEN),
                topic(self.settings, sim.bank_id, CMD_READ),
            ],
            self._on_message,
        )
        sim.subscribe(self._publish_event)

    def start(self) -> MqttDevice:
        self._conn.start()
        return self

    def close(self) -> None:
        self._conn.stop()

    def _publish_event(self, event: DriverEvent) -> None:
        message = self._signer.sign(EVT, encode_events([event]))
        self._conn.publish(topic(self.settings, self.sim.bank_id, EVT), message.envelope())

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        channel = msg.topic.split(f"/{self.sim.bank_id}/", 1)[-1]
        try:
            message = self._verifier.verify_envelope(bytes(msg.payload), channel)
            command = Command.decode(message.body)
        except SignatureError:
            self.rejected += 1
            return
        # Opening takes the lock's release time: answer from a worker, not the network thread.
        threading.Thread(target=self._execute, args=(channel, command), daemon=True).start()

    def _execute(self, channel: str, command: Command) -> None:
        try:
            ack = execute_command(self.sim, channel, command)
        except ControllerOffline:
            return  # an offline controller answers nothing
        reply: SignedMessage = self._signer.sign(ACK, ack.encode())
        self._conn.publish(topic(self.settings, self.sim.bank_id, ACK), reply.envelope())


def execute_command(sim: LockerDriver, channel: str, command: Command) -> Ack:
    """Run one command on the local driver and say how it went (shared by MQTT and HTTP)."""
    try:
        if channel == CMD_OPEN:
            sim.open_door(command.compartment)
        reading = sim.read(command.compartment)
    except DoorDidNotOpen as exc:
        return Ack(command.cmd_id, command.compartment, exc.detail or "jammed")
    except ControllerOffline:
        raise
    except LockerError as exc:
        return Ack(command.cmd_id, command.compartment, type(exc).__name__)
    return Ack(command.cmd_id, command.compartment, None, reading.door, reading.occupied)
