"""Checking controller messages: nonces shared through Redis, and the MQTT listener's verifier.

Below ``bridge.services.wiring`` (which gives each driver its verifier) and
``bridge.services.controllers`` (which takes the webhook and starts the MQTT listeners); it knows
nothing of what events do.

MQTT differs from the webhook in one way: every process subscribed to a bank's topics receives
every message (the worker's listener, and any web process that has opened a door there). So
:class:`ListenerVerifier` remembers nonces per listener (each process checks each message once
and sees the acks of its own commands), and the events of a message are applied by the one
listener that claims its nonce in Redis first; for the others it verifies but carries nothing.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from datetime import datetime, timedelta

from redis import Redis

from bridge.runtime import Runtime
from bridge.services.access.rejections import rejection_to_audit
from bridge.services.banks import audit
from bridge.storage.db import unit_of_work
from lockers.drivers.wire import encode_events
from lockers.errors import MalformedMessage, SignatureError
from lockers.signing import DEFAULT_WINDOW, SignedMessage, Verifier


class RedisNonceCache:
    """``lockers.signing.NonceCache`` in Redis: ``SET key NX PX`` is atomic across processes."""

    def __init__(self, redis: Redis, prefix: str = "lb:nonce:") -> None:
        self._redis = redis
        self._prefix = prefix

    def add_if_new(self, key: str, *, now: datetime, expires_at: datetime) -> bool:
        ttl_ms = max(1, int((expires_at - now).total_seconds() * 1000))
        return bool(self._redis.set(f"{self._prefix}{key}", b"1", nx=True, px=ttl_ms))


def audit_rejected(
    rt: Runtime, bank_id: str | None, reason: str, *, claimed: str | None, via: str
) -> None:
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
            audit_rejected(self._rt, self._bank_id, reason, claimed=claimed, via="mqtt")
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
