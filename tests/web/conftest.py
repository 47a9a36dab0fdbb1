"""Fixtures for the staff and kiosk pages: a runtime on SQLite + embedded Redis, seeded banks,
one account per role, and Flask test clients.

Speed: the migrated database is built once per session and copied per test (running the
migration per test cost about a second each), and passwords are hashed with the explicit
``fast-insecure-for-tests`` argon2 setting.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.services.staff.accounts import Role, add_user
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.web.app import create_app
from tests.conftest import base_config

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


def use_acs(cfg: dict[str, Any], acs: Any) -> dict[str, Any]:
    """Points the configuration's ILS at a running reference ACS (SIP2 over TCP)."""
    host, port = acs.address
    cfg["ils"] = [
        {
            "name": "main-ils",
            "profile": "koha",
            "host": host,
            "port": port,
            "institution": "DEMO",
            "timeout_seconds": 3,
        }
    ]
    return cfg


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database file with the full schema, made once for the session."""
    path = tmp_path_factory.mktemp("web-db") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


def fresh_database(settings: Settings, template: Path) -> None:
    """Copies the migrated template to the file ``settings.database_url`` names."""
    url = settings.database_url
    assert url.startswith("sqlite:///"), url
    target = Path(url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)


@pytest.fixture
def web_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    cfg = web_config(tmp_path)
    if "acs" in request.fixturenames:  # the test talks SIP2 to the reference ACS
        use_acs(cfg, request.getfixturevalue("acs"))
    return load_settings(None, **cfg)


@pytest.fixture
def acs() -> Iterator[Any]:
    """The reference SIP2 server with the sample catalogue (Koha behaviour), on a free port.

    Patrons 23000000000001-08 (PIN 1234, 2345, ...); 07 has a child card. Laptop 01
    (39000000000017) is for adults; Hotspot 01 (39000000000020) has a 2.00 rental fee.
    """
    from sip2.acs.server import ReferenceACS
    from tests.conftest import REPO

    with ReferenceACS(REPO / "examples" / "catalogue.json", behaviour="koha") as server:
        yield server


def stock(rt: Runtime, doors: dict[str, Any], number: int, item: str, category: str) -> None:
    """Staff put a device into an equipment door and close it: it is available to borrow."""
    from bridge.services.equipment import stock_equipment

    assert stock_equipment(rt, "main-lobby", number, item, category, "staff:tester") == number
    doors["main-lobby"].put_item(number)
    assert doors["main-lobby"].close_door(number)


@pytest.fixture
def rt(web_settings: Settings, redis_conn: Any, migrated_db: Path) -> Iterator[Runtime]:
    fresh_database(web_settings, migrated_db)
    engine = make_engine(web_settings.database_url)
    runtime = Runtime.over(web_settings, engine, redis_conn)
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
    import re

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
    from sqlalchemy import select

    from bridge.services.loading import scan_item
    from bridge.storage.tables.notifications import NotificationRow

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
