"""Builds the parts a flow talks to, from the settings, once per process.

Every builder goes through ``rt.cached(key, ...)``: that is the one seam where a test (or the
demo) puts its own part in, e.g. ``rt.cached("ils:main-lobby", lambda: MemoryIls())`` before
the first flow runs. Keys:

- ``ils:<bank_id>``: the bank's :class:`ils_adapters.base.IlsAdapter` (SIP2 with the bank's
  own SIP login, so the ILS sees each bank as its own terminal / pickup location, or with the
  ILS's shared one; each check-in names the bank's branch either way);
- ``sip2pool:<ils name>``: the connection pool shared by the banks of one ILS (at most
  ``max_connections`` per ILS per process; docs/sip2-notes.md, Connections);
- ``driver:<bank_id>``: the bank's door controller driver (simulated, MQTT or HTTP).
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from bridge.config import BankSettings, IlsSettings
from bridge.infra.ils_connection import server_config, sip_account
from bridge.infra.lockboards import serial_driver
from bridge.infra.metrics import observe_sip2
from bridge.runtime import Runtime
from bridge.services import events
from bridge.services.controller_auth import ListenerVerifier, RedisNonceCache
from ils_adapters.base import IlsAdapter
from ils_adapters.profiles import profile_named
from ils_adapters.sip2_adapter import Sip2Adapter
from lockers.drivers.mqtt import MqttDriver, MqttSettings
from lockers.drivers.simulated import SimTiming, SimulatedBank
from lockers.signing import Signer, Verifier
from sip2.client import SipClient
from sip2.pool import SipPool

log = logging.getLogger(__name__)


def adapter_for(rt: Runtime, bank_id: str) -> IlsAdapter:
    """The ILS adapter for ``bank_id`` (built on first use). Raises KeyError for an unknown bank."""
    bank = rt.settings.bank(bank_id)
    # Runtime.cached is not re-entrant: build the shared pool before the adapter. A pool is
    # inert until first used, so one built beside a test's fake costs nothing.
    pool = _sip2_pool(rt, rt.settings.ils_for(bank_id))
    adapter: IlsAdapter = rt.cached(f"ils:{bank_id}", lambda: _build_sip2_adapter(rt, bank, pool))
    return adapter


def _sip2_pool(rt: Runtime, ils: IlsSettings) -> Any:
    def build() -> SipPool:
        return SipPool(server_config(ils), max_connections=ils.max_connections)

    return rt.cached(f"sip2pool:{ils.name}", build)


def _build_sip2_adapter(rt: Runtime, bank: BankSettings, pool: Any) -> IlsAdapter:
    ils = rt.settings.ils_for(bank.id)
    account = sip_account(bank, ils)

    def observe(message: str, seconds: float, error: str | None) -> None:
        observe_sip2(message, ils.name, seconds, error)

    client = SipClient(pool, account, clock=rt.clock, observer=observe)
    adapter: IlsAdapter = Sip2Adapter(client, profile_named(ils.profile))
    return adapter


def driver_for(rt: Runtime, bank_id: str) -> Any:
    """The door controller driver of ``bank_id`` (``lockers.drivers``), built on first use."""
    bank = rt.settings.bank(bank_id)
    # Built outside rt.cached, which is not re-entrant.
    verifier: Any = None
    if bank.driver.kind == "http":
        verifier = controller_verifier(rt)
    elif bank.driver.kind == "mqtt":
        # Each process subscribed to the bank checks every message itself; events are applied
        # by one of them (bridge.services.controllers).
        verifier = ListenerVerifier(rt, bank.id)
    return rt.cached(f"driver:{bank_id}", lambda: _build_driver(rt, bank, verifier))


def _build_driver(rt: Runtime, bank: BankSettings, verifier: Any) -> Any:
    settings = bank.driver
    driver: Any
    if settings.kind == "simulated":
        driver = SimulatedBank(
            bank.id,
            [c.number for c in bank.all_compartments()],
            timing=SimTiming(open_delay=settings.door_delay_seconds, read_delay=0.0),
            clock=rt.clock,
        )
    elif settings.kind == "serial":
        driver = serial_driver(bank, rt.clock)
    else:
        key = (settings.signing_key or "").encode()
        signer = Signer(bank.id, key, rt.clock)
        if settings.kind == "mqtt":
            driver = MqttDriver(
                bank.id,
                signer=signer,
                verifier=verifier,
                settings=MqttSettings(
                    host=settings.broker_host,
                    port=settings.broker_port,
                    prefix=settings.topic_prefix,
                ),
            )
        else:
            # On use: the HTTP driver brings the HTTP client, which a web process without
            # HTTP controllers should not carry (tests/web/test_start_imports.py).
            from lockers.drivers.http import HttpDriver

            driver = HttpDriver(
                bank.id,
                settings.controller_url or "",
                signer=signer,
                verifier=verifier,
                ca_file=str(settings.ca_file) if settings.ca_file else None,
            )
    # Events go to the handlers registered at start-up (bridge.services.assembly).
    driver.subscribe(lambda event: events.apply(rt, event))
    if settings.kind == "mqtt":
        driver.start()  # subscribes to the bank's ack and evt topics
    return driver


def controller_verifier(rt: Runtime) -> Any:
    """One verifier of controller messages per process, with nonces shared through Redis."""

    def key_of(bank_id: str) -> bytes | None:
        try:
            key = rt.settings.bank(bank_id).driver.signing_key
        except KeyError:
            return None
        return key.encode() if key else None

    return rt.cached(
        "controller-verifier", lambda: Verifier(key_of, rt.clock, RedisNonceCache(rt.redis))
    )


def bank_zone(bank: BankSettings) -> ZoneInfo:
    return ZoneInfo(bank.timezone)
