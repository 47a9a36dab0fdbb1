"""Fixtures for the staff and kiosk pages: a runtime on a copy of the root fixtures' migrated
SQLite template + embedded Redis, seeded banks, one account per role, and Flask test clients.

Passwords are hashed with the explicit ``fast-insecure-for-tests`` argon2 setting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.services.loading import scan_item
from bridge.services.staff.accounts import Role, add_user
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.tables.notifications import NotificationRow
from bridge.web.app import create_app
from tests.support.acs import use_acs
from tests.support.clock import Clock
from tests.support.config import base_config
from tests.support.db import copy_to_url

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: Role
    totp: pyotp.TOTP | None


def web_config(tmp_path: Path, **web: Any) -> dict[str, Any]:
    cfg = base_config(tmp_path)
    cfg["web"] = {**cfg["web"], **web}
    # Tests only: cheap argon2 parameters (the default is RFC 9106's).
    cfg["security"] = {**cfg["security"], "staff_password_hashing": "fast-insecure-for-tests"}
    cfg["equipment"] = [
        {"name": "laptop", "label": "Laptop", "max_per_patron": 1, "no_fines_over": "5.00"},
        {"name": "hotspot", "label": "Wi-Fi hotspot", "max_per_patron": 1},
    ]
    return cfg


@pytest.fixture
def web_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    cfg = web_config(tmp_path)
    if "acs" in request.fixturenames:  # the test talks SIP2 to the reference ACS
        use_acs(cfg, request.getfixturevalue("acs"))
    return load_settings(None, **cfg)


def stock(rt: Runtime, doors: dict[str, Any], number: int, item: str, category: str) -> None:
    """Staff put a device into an equipment door and close it: it is available to borrow."""
    from bridge.services.equipment import stock_equipment

    assert stock_equipment(rt, "main-lobby", number, item, category, "staff:tester") == number
    doors["main-lobby"].put_item(number)
    assert doors["main-lobby"].close_door(number)


@pytest.fixture
def clock() -> Clock:
    """The wall clock, which a test can move forward (sign-in sessions and TOTP codes also run
    on real time)."""
    return Clock(running=True)


@pytest.fixture
def rt(
    web_settings: Settings, redis_conn: Any, sqlite_template: Path, clock: Clock
) -> Iterator[Runtime]:
    copy_to_url(sqlite_template, web_settings.database_url)
    engine = make_engine(web_settings.database_url)
    runtime = Runtime.over(web_settings, engine, redis_conn, clock)
    sync_banks(runtime)
    yield runtime
    runtime.close()


@pytest.fixture
def accounts(rt: Runtime) -> dict[Role, Account]:
    out = {}
    with unit_of_work(rt.sessions) as s:
        for role in Role:
            user, uri = add_user(
                s,
                role.value + "-1",
                PASSWORD,
                role,
                totp=role is not Role.VIEWER,
                settings=rt.settings,
            )
            totp = pyotp.parse_uri(uri) if uri else None
            out[role] = Account(user.username, PASSWORD, role, totp)  # type: ignore[arg-type]
    return out


@pytest.fixture
def app(rt: Runtime) -> Flask:
    flask_app = create_app(rt.settings, rt)
    flask_app.config["TESTING"] = True
    return flask_app


KIOSK_COOKIE = "lb_kiosk"


def enrol_kiosk(rt: Runtime, bank_id: str = "main-lobby", name: str = "Test kiosk") -> str:
    """Enrols a kiosk device for ``bank_id`` as an administrator would; returns its token."""
    from bridge.services.access.kiosks import enrol

    return enrol(rt, bank_id, name, actor="staff:admin-1")[1]


@pytest.fixture
def client(app: Flask, rt: Runtime) -> FlaskClient:
    """A browser that is also the enrolled kiosk of main-lobby (staff pages ignore that)."""
    browser = app.test_client()
    browser.set_cookie(KIOSK_COOKIE, enrol_kiosk(rt))
    return browser


@pytest.fixture
def stranger(app: Flask) -> FlaskClient:
    """Any other browser: no kiosk enrolment, no staff session."""
    return app.test_client()


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def sign_in(client: FlaskClient, account: Account, *, code_offset: int = 0) -> None:
    """Signs in through the real forms (password, then the TOTP code for admins)."""
    page = client.get("/staff/login").get_data(as_text=True)
    resp = client.post(
        "/staff/login",
        data={"username": account.username, "password": account.password, "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    if account.role is Role.ADMIN:
        assert account.totp is not None
        page = client.get("/staff/login/code").get_data(as_text=True)
        import time

        code = account.totp.at(time.time() + code_offset)
        resp = client.post("/staff/login/code", data={"code": code, "csrf_token": csrf_from(page)})
        assert resp.status_code == 302, resp.get_data(as_text=True)


@pytest.fixture
def doors(rt: Runtime) -> dict[str, Any]:
    """In-memory door controllers for both banks, wired to the real event handling."""
    from bridge.services.assembly import handle_event
    from lockers.drivers.simulated import SimTiming, SimulatedBank

    out = {}
    for bank in rt.settings.banks:
        sim = SimulatedBank(
            bank.id,
            [c.number for c in bank.all_compartments()],
            timing=SimTiming(open_delay=0, read_delay=0),
            clock=rt.clock,
        )
        sim.subscribe(lambda event: handle_event(rt, event))
        rt.cached(f"driver:{bank.id}", lambda sim=sim: sim)
        out[bank.id] = sim
    return out


@pytest.fixture
def ils(rt: Runtime) -> Any:
    """The in-memory ILS behind both banks, with one patron (card 21000001, PIN 4321)."""
    from ils_adapters.memory import MemoryIls

    memory = MemoryIls(clock=rt.clock)
    memory.add_patron("21000001", "4321", email="p@example.org")
    for bank in rt.settings.banks:
        rt.cached(f"ils:{bank.id}", lambda: memory)
    return memory


@dataclass(frozen=True)
class Loaded:
    compartment: int
    code: str
    qr_token: str


def load_for_pickup(
    rt: Runtime, ils: Any, doors: dict[str, Any], item: str, *, patron: str = "21000001",
    bank_id: str = "main-lobby", title: str = "", fee: Any = None,
) -> Loaded:
    """Staff load a hold into the bank through the real flow; returns the patron's door and codes."""
    branch = rt.settings.bank(bank_id).branch
    ils.add_item(item, home="CENTRAL", title=title or f"Book {item}", fee=fee)
    ils.place_hold(patron, item, pickup_location=branch)
    result = scan_item(rt, bank_id, item, "staff:loader")
    assert result.compartment is not None, result
    sim = doors[bank_id]
    sim.put_item(result.compartment)
    assert sim.close_door(result.compartment)
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(NotificationRow).order_by(NotificationRow.id.desc())).first()
        assert row is not None
        found = {**(row.facts or {}), **(row.secrets or {})}
    return Loaded(result.compartment, found["code"], found["qr_token"])


def load_hold(rt: Runtime, doors: dict[str, Any], item: str) -> tuple[int, str]:
    """Staff scan a hold the ILS has for this bank and shut it in its door; returns the door
    and the pickup code sent to the patron."""
    door = scan_item(rt, "main-lobby", item, "staff:loader").compartment
    assert door is not None
    doors["main-lobby"].put_item(door)
    assert doors["main-lobby"].close_door(door)
    with unit_of_work(rt.sessions) as s:
        note = s.scalars(select(NotificationRow).order_by(NotificationRow.id.desc())).first()
        assert note is not None
        return door, note.secrets["code"]


def receipt_offer(html: str) -> str:
    """The receipt offer on a kiosk result screen."""
    m = re.search(r'name="offer" value="([^"]+)"', html)
    assert m, "the result screen offers no receipt"
    return m.group(1)


def ask_receipt(client: FlaskClient, offer: str, lang: str = "en") -> Any:
    """The patron asks for the receipt the result screen offered."""
    token = csrf_from(client.get("/kiosk/main-lobby/pickup/card").get_data(as_text=True))
    return client.post(
        f"/kiosk/main-lobby/receipt?lang={lang}",
        data={"offer": offer, "lang": lang, "csrf_token": token},
    )
