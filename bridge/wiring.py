"""Builds the parts a flow talks to, from the settings, once per process.

Every builder goes through ``rt.cached(key, ...)``: that is the one seam where a test (or the
demo) puts its own part in, e.g. ``rt.cached("ils:main-lobby", lambda: MemoryIls())`` before
the first flow runs. Keys:

- ``ils:<bank_id>``: the bank's :class:`ils_adapters.base.IlsAdapter` (SIP2 with the bank's
  own SIP login, so the ILS sees each bank as its own terminal / pickup location);
- ``sip2pool:<ils name>``: the connection pool shared by the banks of one ILS (DOMAIN.md
  section 3: at most ``max_connections`` per ILS per process);
- ``driver:<bank_id>``: the bank's door controller driver (simulated, MQTT or HTTP).
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bridge.config import BankSettings, IlsSettings, Purpose
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, BankRow, CompartmentRow
from ils_adapters.base import IlsAdapter

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
    from bridge.ils_connection import server_config
    from sip2.pool import SipPool

    def build() -> SipPool:
        return SipPool(server_config(ils), max_connections=ils.max_connections)

    return rt.cached(f"sip2pool:{ils.name}", build)


def _build_sip2_adapter(rt: Runtime, bank: BankSettings, pool: Any) -> IlsAdapter:
    from bridge.ils_connection import sip_account
    from ils_adapters.profiles import profile_named
    from ils_adapters.sip2_adapter import Sip2Adapter
    from sip2.client import SipClient

    ils = rt.settings.ils_for(bank.id)
    account = sip_account(bank, ils)
    from bridge.metrics import observe_sip2

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
        from bridge.controller_auth import ListenerVerifier

        # Each process subscribed to the bank checks every message itself; events are applied
        # by one of them (bridge.controllers).
        verifier = ListenerVerifier(rt, bank.id)
    return rt.cached(f"driver:{bank_id}", lambda: _build_driver(rt, bank, verifier))


def _build_driver(rt: Runtime, bank: BankSettings, verifier: Any) -> Any:
    from bridge import events
    from lockers.signing import Signer

    settings = bank.driver
    driver: Any
    if settings.kind == "simulated":
        from lockers.drivers.simulated import SimTiming, SimulatedBank

        driver = SimulatedBank(
            bank.id,
            [c.number for c in bank.all_compartments()],
            timing=SimTiming(open_delay=settings.door_delay_seconds, read_delay=0.0),
            clock=rt.clock,
        )
    elif settings.kind == "serial":
        from bridge.lockboards import serial_driver

        driver = serial_driver(bank, rt.clock)
    else:
        key = (settings.signing_key or "").encode()
        signer = Signer(bank.id, key, rt.clock)
        if settings.kind == "mqtt":
            from lockers.drivers.mqtt import MqttDriver, MqttSettings

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
            from lockers.drivers.http import HttpDriver

            driver = HttpDriver(
                bank.id,
                settings.controller_url or "",
                signer=signer,
                verifier=verifier,
                ca_file=str(settings.ca_file) if settings.ca_file else None,
            )
    # Events go to the handlers registered at start-up (bridge.assembly).
    driver.subscribe(lambda event: events.apply(rt, event))
    if settings.kind == "mqtt":
        driver.start()  # subscribes to the bank's ack and evt topics
    return driver


def controller_verifier(rt: Runtime) -> Any:
    """One verifier of controller messages per process, with nonces shared through Redis."""
    from bridge.controller_auth import RedisNonceCache
    from lockers.signing import Verifier

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


def _initial_state(purpose: Purpose) -> str:
    return "return_free" if purpose is Purpose.RETURN else "free"


def sync_banks(rt: Runtime) -> dict[str, int]:
    """Brings the bank and compartment rows in line with the configuration; idempotent.

    New doors are added (free); doors no longer configured are put out of service with the
    fault "removed from configuration" (never deleted: they may still hold items and the
    audit refers to them); changed sizes/heights/purposes of free doors are updated. Returns
    counts of what changed ("added", "retired", "updated").
    """
    counts = {"added": 0, "retired": 0, "updated": 0}
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        for bank in rt.settings.banks:
            row = s.get(BankRow, bank.id)
            if row is None:
                s.add(BankRow(id=bank.id, name=bank.name, branch=bank.branch, ils=bank.ils))
                s.flush()
            else:
                row.name, row.branch, row.ils = bank.name, bank.branch, bank.ils
            existing = {
                c.number: c
                for c in s.scalars(select(CompartmentRow).where(CompartmentRow.bank_id == bank.id))
            }
            configured = {c.number: c for c in bank.all_compartments()}
            for number, conf in configured.items():
                crow = existing.get(number)
                if crow is None:
                    s.add(
                        CompartmentRow(
                            bank_id=bank.id,
                            number=number,
                            size=conf.size.value,
                            purpose=conf.purpose.value,
                            height_cm=conf.height_cm,
                            width_mm=conf.width_mm,
                            height_mm=conf.height_mm,
                            depth_mm=conf.depth_mm,
                            charger=conf.charger,
                            capacity=conf.capacity,
                            state=_initial_state(conf.purpose),
                            state_since=now,
                        )
                    )
                    counts["added"] += 1
                    continue
                if crow.fault == _REMOVED:
                    # The door is back in the configuration: return it to service empty-handed
                    # only if nothing is recorded inside (the service layer checks contents).
                    crow.fault = None
                    crow.state = crow.state_before_fault or _initial_state(conf.purpose)
                    crow.state_before_fault = None
                    counts["updated"] += 1
                if crow.capacity != conf.capacity:
                    # What a bin takes may change while it holds returns: the kiosk only asks
                    # it before offering the door again.
                    crow.capacity = conf.capacity
                    counts["updated"] += 1
                if _describe(crow) != _describe_conf(conf) and crow.state in (
                    "free",
                    "return_free",
                ):
                    crow.size, crow.purpose = conf.size.value, conf.purpose.value
                    crow.height_cm, crow.charger = conf.height_cm, conf.charger
                    crow.width_mm, crow.height_mm = conf.width_mm, conf.height_mm
                    crow.depth_mm = conf.depth_mm
                    crow.state = _initial_state(conf.purpose)
                    counts["updated"] += 1
            for number, crow in existing.items():
                if number in configured or crow.fault == _REMOVED:
                    continue
                crow.state_before_fault = crow.state
                crow.state = "out_of_service"
                crow.fault = _REMOVED
                crow.state_since = now
                s.add(
                    AuditEventRow(
                        at=now,
                        kind="compartment_retired",
                        bank_id=bank.id,
                        compartment=number,
                        actor="configuration",
                        detail={"from": crow.state_before_fault},
                    )
                )
                counts["retired"] += 1
    return counts


_REMOVED = "removed from configuration"


def _describe(row: CompartmentRow) -> tuple[Any, ...]:
    return (
        row.size,
        row.purpose,
        row.height_cm,
        row.charger,
        row.width_mm,
        row.height_mm,
        row.depth_mm,
    )


def _describe_conf(conf: Any) -> tuple[Any, ...]:
    return (
        conf.size.value,
        conf.purpose.value,
        conf.height_cm,
        conf.charger,
        conf.width_mm,
        conf.height_mm,
        conf.depth_mm,
    )
