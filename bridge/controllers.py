"""Controller event ingestion: the HTTP webhook's core and the MQTT listener.

Both end in ``bridge.services.doors.handle_event``. Signatures are checked with
``lockers.signing`` (per-bank HMAC keys, clock window, nonces shared through Redis so a
replay to another web worker is caught too); a forged, stale, replayed or malformed message is
audited and dropped, and reaches nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from redis import Redis

from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.storage.db import unit_of_work
from lockers.drivers.base import DriverEvent
from lockers.errors import SignatureError

log = logging.getLogger(__name__)


class RedisNonceCache:
    """``lockers.signing.NonceCache`` in Redis: ``SET key NX PX`` is atomic across processes."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def add_if_new(self, key: str, *, now: datetime, expires_at: datetime) -> bool:
        ttl_ms = max(1, int((expires_at - now).total_seconds() * 1000))
        return bool(self._redis.set(f"lb:nonce:{key}", b"1", nx=True, px=ttl_ms))


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
        reason = type(exc).__name__ if isinstance(exc, SignatureError) else "UnknownBank"
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "controller_message_rejected",
                at=rt.clock(),
                bank_id=bank_id if isinstance(exc, SignatureError) else None,
                actor="controller",
                reason=reason,
                claimed_bank=bank_id[:63],
            )
        raise Rejected(reason) from exc
    for event in events:
        handle_event(rt, event)
    return events


def start_mqtt_listeners(rt: Runtime) -> list[str]:
    """Connects the driver of every MQTT bank (its events then flow into ``handle_event``).

    Called by the worker and the demo; returns the bank ids started. A broker that cannot be
    reached is logged and retried by paho in the background.
    """
    from bridge.wiring import driver_for

    started = []
    for bank in rt.settings.banks:
        if bank.driver.kind != "mqtt":
            continue
        try:
            driver_for(rt, bank.id)
            started.append(bank.id)
        except Exception as exc:  # the worker must still start; the status page shows it
            log.warning("MQTT listener for bank %s not started: %s", bank.id, exc)
    return started
