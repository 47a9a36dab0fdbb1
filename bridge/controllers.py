"""Controller event ingestion: the HTTP webhook's core and the MQTT listener.

Both end in ``bridge.services.doors.handle_event``. Signatures are checked with
``lockers.signing`` (per-bank HMAC keys, clock window, nonces in Redis); a forged, stale,
replayed or malformed message is audited and dropped, and reaches nothing else.

MQTT differs from the webhook in one way: every process subscribed to a bank's topics receives
every message (the worker's listener, and any web process that has opened a door there). So
:class:`ListenerVerifier` remembers nonces per listener (each process checks each message once
and sees the acks of its own commands), and the events of a message are applied by the one
listener that claims its nonce in Redis first; for the others it verifies but carries nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from redis import Redis

from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.storage.db import unit_of_work
from lockers.drivers.base import DriverEvent
from lockers.drivers.wire import encode_events
from lockers.errors import MalformedMessage, SignatureError
from lockers.signing import DEFAULT_WINDOW, SignedMessage, Verifier

log = logging.getLogger(__name__)


class RedisNonceCache:
    """``lockers.signing.NonceCache`` in Redis: ``SET key NX PX`` is atomic across processes."""

    def __init__(self, redis: Redis, prefix: str = "lb:nonce:") -> None:
        self._redis = redis
        self._prefix = prefix

    def add_if_new(self, key: str, *, now: datetime, expires_at: datetime) -> bool:
        ttl_ms = max(1, int((expires_at - now).total_seconds() * 1000))
        return bool(self._redis.set(f"{self._prefix}{key}", b"1", nx=True, px=ttl_ms))


class Rejected(Exception):
    """The controller message was not accepted; ``reason`` names the check that failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def accept_webhook(
    rt: Runtime, bank_id: str, headers: Mapping[str, str], body: bytes
) -> list[DriverEvent]:
    """Verifies an HTTP controller's event call for ``bank_id`` and applies its events.

    Raises Rejected (answer 401) after auditing the attempt; nothing is applied then.
    """
    from bridge.services.doors import handle_event
    from bridge.wiring import controller_verifier
    from lockers.drivers.http import verify_webhook

    try:
        rt.settings.bank(bank_id)
        events = verify_webhook(headers, body, verifier=controller_verifier(rt), bank_id=bank_id)
    except (SignatureError, KeyError) as exc:
        signed = isinstance(exc, SignatureError)
        reason = type(exc).__name__ if signed else "UnknownBank"
        _audit_rejected(rt, bank_id if signed else None, reason, claimed=bank_id, via="http")
        raise Rejected(reason) from exc
    for event in events:
        handle_event(rt, event)
    return events


def _audit_rejected(
    rt: Runtime, bank_id: str | None, reason: str, *, claimed: str | None, via: str
) -> None:
    from bridge.access.rejections import rejection_to_audit

    earlier = rejection_to_audit(rt, "controller", f"{via}:{claimed}:{reason}")
    if earlier is None:
        return  # one row per source and minute: a forger cannot flood the audit log
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "controller_message_rejected",
            at=rt.clock(),
            bank_id=bank_id,
            actor="controller",
            reason=reason,
            claimed_bank=claimed[:63] if claimed else None,
            via=via,
            previous_minute=earlier or None,
        )


def listener_id(rt: Runtime) -> str:
    """This process's name as an MQTT listener: host, pid and a random part."""
    return str(
        rt.cached(
            "mqtt-listener-id",
            lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        )
    )


class ListenerVerifier:
    """What this process's MQTT driver of ``bank_id`` verifies messages with (see the module
    docstring). Raises what ``lockers.signing.Verifier`` raises, after auditing it."""

    def __init__(self, rt: Runtime, bank_id: str, *, window: timedelta = DEFAULT_WINDOW) -> None:
        self._rt = rt
        self._bank_id = bank_id
        self._me = listener_id(rt)
        self._ttl_ms = int(2 * window.total_seconds() * 1000)

        def key_of(claimed: str) -> bytes | None:
            try:
                key = rt.settings.bank(claimed).driver.signing_key
            except KeyError:
                return None
            return key.encode() if key else None

        nonces = RedisNonceCache(rt.redis, prefix=f"lb:nonce:{self._me}:")
        self._inner = Verifier(key_of, rt.clock, nonces, window=window)

    def verify_envelope(self, payload: bytes, channel: str) -> SignedMessage:
        try:
            message = self._inner.verify_envelope(payload, channel)
        except SignatureError as exc:
            claimed = None
            if not isinstance(exc, MalformedMessage):
                claimed = SignedMessage.from_envelope(payload).bank_id
            reason = type(exc).__name__
            _audit_rejected(self._rt, self._bank_id, reason, claimed=claimed, via="mqtt")
            raise
        if channel == "evt" and not self._claim(message):
            # Another listener of this installation applies these events.
            return dataclasses.replace(message, body=encode_events([]))
        return message

    def _claim(self, message: SignedMessage) -> bool:
        key = f"lb:mqtt-applied:{message.bank_id}:{message.nonce}"
        redis = self._rt.redis
        if redis.set(key, self._me.encode(), nx=True, px=self._ttl_ms):
            return True
        owner = redis.get(key)
        if isinstance(owner, bytes):
            owner = owner.decode()
        return owner == self._me


def mqtt_banks(rt: Runtime) -> list[str]:
    return [b.id for b in rt.settings.banks if b.driver.kind == "mqtt"]


def start_mqtt_listeners(rt: Runtime) -> list[str]:
    """Connects the driver of every MQTT bank (its events then flow into ``handle_event``).

    Called by the worker (``bridge.worker``) and the demo; returns the bank ids now listening.
    A broker that cannot be reached is logged; :func:`keep_mqtt_listeners` tries again.
    """
    from bridge.wiring import driver_for

    started = []
    for bank_id in mqtt_banks(rt):
        try:
            driver_for(rt, bank_id)
            started.append(bank_id)
        except Exception as exc:  # the worker must still start; the status page shows it
            log.warning("MQTT listener for bank %s not started: %s", bank_id, exc)
    return started


def keep_mqtt_listeners(rt: Runtime, stop: threading.Event, every: float = 30.0) -> None:
    """Starts the MQTT listeners, then retries those whose broker was unreachable until all
    run or ``stop`` is set (a worker thread; paho reconnects a started one by itself)."""
    wanted = set(mqtt_banks(rt))
    while wanted and not stop.is_set():
        wanted -= set(start_mqtt_listeners(rt))
        if wanted:
            stop.wait(every)
