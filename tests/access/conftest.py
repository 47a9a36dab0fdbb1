"""Fixtures for access beyond the keypad: a runtime wired to the root fixtures' reference SIP2
server (sample catalogue, Koha behaviour) on a copy of the migrated SQLite template + embedded
Redis, simulated doors, a live web server for the browser, and a clock on real time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.access import phone
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from bridge.services.banks import pseudonym
from bridge.services.loading import ScanOutcome, scan_item
from bridge.services.wiring import driver_for
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.web.app import create_app
from lockers.drivers.simulated import SimulatedBank
from sip2.acs.server import ReferenceACS
from tests.support.clock import Clock
from tests.support.config import base_config
from tests.support.db import copy_to_url

# Patrons and items of examples/catalogue.json: holds H1 (patron 01, item 01) and H3
# (patron 03, item 13) wait for pickup at MAIN-LOCKER.
ANA, ANA_PIN, ANA_ITEM = "23000000000001", "1234", "39000000000001"
CHLOE, CHLOE_PIN, CHLOE_ITEM = "23000000000003", "3456", "39000000000013"
ERIN_BLOCKED, ERIN_PIN = "23000000000005", "5678"
BEN, BEN_PIN = "23000000000002", "2345"


def access_config(tmp_path: Path, acs: ReferenceACS, **over: Any) -> dict[str, Any]:
    cfg = base_config(tmp_path)
    cfg["ils"][0].update(port=acs.address[1], timeout_seconds=3.0, heartbeat_seconds=30.0)
    cfg["ils"][0]["institution"] = "DEMO"
    for bank in cfg["banks"]:
        bank["driver"] = {"kind": "simulated", "door_delay_seconds": 0.0}
    cfg["access"] = {"public_url": "http://lockers.test"}
    cfg.update(over)
    return cfg


@pytest.fixture
def clock() -> Clock:
    """The wall clock, which a test can move forward (the reference ACS answers on real
    time, and the live server's sessions run on it)."""
    return Clock(running=True)


@pytest.fixture
def access_settings(tmp_path: Path, acs: ReferenceACS) -> Settings:
    return load_settings(None, **access_config(tmp_path, acs))


@pytest.fixture
def rt(
    access_settings: Settings, redis_conn: Any, clock: Clock, sqlite_template: Path
) -> Iterator[Runtime]:
    copy_to_url(sqlite_template, access_settings.database_url)
    engine = make_engine(access_settings.database_url)
    runtime = assemble(Runtime.over(access_settings, engine, redis_conn, clock))
    sync_banks(runtime)
    yield runtime
    runtime.close()


def sim(rt: Runtime, bank_id: str = "main-lobby") -> SimulatedBank:
    driver = driver_for(rt, bank_id)
    assert isinstance(driver, SimulatedBank)
    return driver


def load_hold(rt: Runtime, item: str, bank_id: str = "main-lobby") -> int:
    """Staff scan the item at the bank, put it in the door that opens and shut it."""
    result = scan_item(rt, bank_id, item, "staff:test")
    assert result.outcome is ScanOutcome.DOOR_OPEN, result
    assert result.compartment is not None
    sim(rt, bank_id).put_item(result.compartment)
    assert sim(rt, bank_id).close_door(result.compartment)
    return result.compartment


def audit_kinds(rt: Runtime) -> list[str]:
    with unit_of_work(rt.sessions) as s:
        return list(s.scalars(select(AuditEventRow.kind).order_by(AuditEventRow.id)))


def audits(rt: Runtime, kind: str) -> list[AuditEventRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind)))
        s.expunge_all()
        return rows


def messages(rt: Runtime, kind: str = "ready_for_pickup") -> list[NotificationRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(
            s.scalars(
                select(NotificationRow)
                .where(NotificationRow.kind == kind)
                .order_by(NotificationRow.id)
            )
        )
        s.expunge_all()
        return rows


def phone_link(rt: Runtime, card: str = ANA, days: int = 7) -> str:
    """A phone link for the card's patron at main-lobby, as the ready message carries; its token."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        url = phone.issue_link(
            rt,
            s,
            bank_id="main-lobby",
            patron_ref=pseudonym(rt, card),
            expires_at=now + timedelta(days=days),
            now=now,
        )
    assert url is not None and url.startswith("http://lockers.test/phone/")
    return url.rsplit("/", 1)[1]


# --- a live server for the browser tests -----------------------------------------------------


@pytest.fixture
def live_url(rt: Runtime) -> Iterator[str]:
    app = create_app(rt.settings, rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Debian's Chromium, not a downloaded one.
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # A phone-sized viewport (an iPhone 12-14 class screen), touch enabled.
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "has_touch": True}
