"""Controller event ingestion: the HTTP webhook's core and the MQTT listener.

Both end in ``bridge.services.events.apply`` (the handlers ``bridge.services.assembly`` registered
at start-up). Signatures are checked with ``lockers.signing`` (per-bank HMAC keys, clock window,
nonces in Redis; ``bridge.services.controller_auth``); a forged, stale, replayed or malformed
message is audited and dropped, and reaches nothing else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from bridge.runtime import Runtime
from bridge.services.controller_auth import ListenerVerifier as ListenerVerifier
from bridge.services.controller_auth import RedisNonceCache as RedisNonceCache
from bridge.services.controller_auth import audit_rejected
from bridge.services.controller_auth import listener_id as listener_id
from bridge.services.events import apply
from bridge.services.wiring import controller_verifier, driver_for
from lockers.drivers.base import DriverEvent
from lockers.drivers.wire import verify_webhook
from lockers.errors import SignatureError

log = logging.getLogger(__name__)


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

    try:
        rt.settings.bank(bank_id)
        events = verify_webhook(headers, body, verifier=controller_verifier(rt), bank_id=bank_id)
    except (SignatureError, KeyError) as exc:
        signed = isinstance(exc, SignatureError)
        reason = type(exc).__name__ if signed else "UnknownBank"
        audit_rejected(rt, bank_id if signed else None, reason, claimed=bank_id, via="http")
        raise Rejected(reason) from exc
    for event in events:
        apply(rt, event)
    return events


def mqtt_banks(rt: Runtime) -> list[str]:
    return [b.id for b in rt.settings.banks if b.driver.kind == "mqtt"]


def start_mqtt_listeners(rt: Runtime) -> list[str]:
    """Connects the driver of every MQTT bank (its events then flow into
    ``bridge.services.events.apply``).

    Called by the worker (``bridge.entrypoints.worker``) and the demo; returns the bank ids now
    listening. A broker that cannot be reached is logged; :func:`keep_mqtt_listeners` tries again.
    """

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
