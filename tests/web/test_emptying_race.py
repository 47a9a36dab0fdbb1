"""A return door that staff empty with their key is still open when its last item is scanned
out; the controller's "opened" report of that key can reach us late. The door must not be
offered to the next patron before the controller has reported it shut again, or staff shutting
it turns that patron's pending scan into a deposit nobody made (a phantom return).

Everything goes through the real entry points: the kiosk deposits API, the staff emptying page
with a signed-in staff session, and signed controller events posted to the webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.returns import DepositRow
from lockers.drivers.base import DoorOpened
from lockers.drivers.simulated import SimTiming, SimulatedBank
from lockers.drivers.wire import encode_events
from lockers.signing import Signer
from tests.support.clock import Clock
from tests.web.conftest import csrf_from, sign_in, web_config

BANK = "main-lobby"
KEY = "controller-key-0123456789abcdef"
KIOSK = "kiosk-token-0123456789abcdefghij"


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    cfg = web_config(tmp_path)
    bank = next(b for b in cfg["banks"] if b["id"] == BANK)
    # Events come in over the signed webhook, as from a real controller.
    bank["driver"] = {"kind": "http", "controller_url": "http://127.0.0.1:9/", "signing_key": KEY}
    cfg["api"] = {"tokens": [{"name": "lobby-kiosk", "token": KIOSK, "role": "kiosk"}]}
    return load_settings(None, **cfg)


class Controller:
    """The bank's doors, reporting every event to the webhook; an "opened" report can be held
    back (the controller's queue lags under load) and sent later."""

    def __init__(self, rt: Runtime, app: Flask) -> None:
        self.rt = rt
        self.webhook = app.test_client()
        self.hold_opened = False
        self.held: list[Any] = []
        bank = rt.settings.bank(BANK)
        self.sim = SimulatedBank(
            BANK,
            [c.number for c in bank.all_compartments()],
            timing=SimTiming(open_delay=0, read_delay=0),
            clock=rt.clock,
        )
        self.sim.subscribe(self._report)
        rt.cached(f"driver:{BANK}", lambda: self.sim)

    def _report(self, event: Any) -> None:
        if self.hold_opened and isinstance(event, DoorOpened):
            self.held.append(event)
            return
        self._post(event)

    def _post(self, event: Any) -> None:
        body = encode_events([event])
        headers = Signer(BANK, KEY.encode(), self.rt.clock).sign("evt", body).headers()
        reply = self.webhook.post(
            f"/api/v1/banks/{BANK}/controller/events", data=body, headers=headers
        )
        assert reply.status_code == 200, reply.get_data(as_text=True)

    def release(self) -> None:
        held, self.held, self.hold_opened = self.held, [], False
        for event in held:
            self._post(event)


@pytest.fixture
def controller(rt: Runtime, app: Flask) -> Controller:
    return Controller(rt, app)


@pytest.fixture
def staff(app: Flask, accounts: Any) -> FlaskClient:
    browser = app.test_client()
    sign_in(browser, accounts[Role.STAFF])
    return browser


@pytest.fixture
def lent(ils: Any) -> Iterator[Any]:
    for item in ("RET-1", "RET-2", "RET-3"):
        ils.add_item(item, home="MAIN-LOCKER", title=f"Book {item}")
        ils.lend("21000001", item)
    yield ils


def _deposit(kiosk: FlaskClient, item: str) -> dict[str, Any]:
    """A patron returns ``item`` at the kiosk (the kiosk deposits API); the kiosk's answer."""
    reply = kiosk.post(
        f"/api/v1/banks/{BANK}/deposits",
        json={"item": item},
        headers={"Authorization": f"Bearer {KIOSK}"},
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    answer: dict[str, Any] = reply.json  # type: ignore[assignment]
    return answer


def _kiosk_return(kiosk: FlaskClient, item: str) -> int:
    answer = _deposit(kiosk, item)
    assert answer["outcome"] == "door_open", answer
    return int(answer["compartment"])


def _scan_out(staff: FlaskClient, door: int, item: str) -> str:
    url = f"/staff/banks/{BANK}/returns/{door}"
    page = staff.get(url).get_data(as_text=True)
    staff.post(url, data={"barcode": item, "csrf_token": csrf_from(page)})
    return staff.get(url).get_data(as_text=True)


def _deposits(rt: Runtime) -> list[tuple[str, int]]:
    with unit_of_work(rt.sessions) as s:
        return [
            (d.item_barcode, d.compartment)
            for d in s.scalars(select(DepositRow).order_by(DepositRow.id))
        ]


def _state(rt: Runtime, door: int) -> str:
    with unit_of_work(rt.sessions) as s:
        return s.scalars(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == BANK, CompartmentRow.number == door
            )
        ).one()


def test_a_door_staff_still_hold_open_is_not_offered_and_its_close_is_no_deposit(
    rt: Runtime, client: FlaskClient, staff: FlaskClient, controller: Controller, lent: Any
) -> None:
    sim = controller.sim
    door = _kiosk_return(client, "RET-1")
    sim.put_item(door)
    assert sim.close_door(door)
    assert _deposits(rt) == [("RET-1", door)]

    # Staff open the door with their key; the controller's report of it lags behind.
    controller.hold_opened = True
    sim.open_door(door)
    sim.take_item(door)
    page = _scan_out(staff, door, "RET-1")
    assert f"Every return is out: door {door} takes returns again." in page

    # The next patron must get another door: this one stands open in the staff's hand.
    other = _kiosk_return(client, "RET-2")
    assert other != door
    sim.put_item(other)
    assert sim.close_door(other)

    # Staff shut the door; the late "opened" report arrives, then the close.
    controller.release()
    assert sim.close_door(door)
    assert _deposits(rt) == [("RET-1", door), ("RET-2", other)]
    assert _state(rt, door) == "return_free"

    # Reported shut after the emptying: the door takes returns again (the other one is full,
    # a return door takes one return here).
    assert _kiosk_return(client, "RET-3") == door
    sim.put_item(door)
    assert sim.close_door(door)
    assert _deposits(rt)[-1] == ("RET-3", door)


def test_a_door_shut_before_its_last_scan_takes_returns_again_after_a_short_wait(
    rt: Runtime,
    clock: Clock,
    client: FlaskClient,
    staff: FlaskClient,
    controller: Controller,
    lent: Any,
) -> None:
    """Staff took the items out, shut the door (reported at once) and scanned them at the desk:
    no close comes after the last scan, so the door is offered again once a short wait has
    passed."""
    sim = controller.sim
    door = _kiosk_return(client, "RET-1")
    sim.put_item(door)
    assert sim.close_door(door)
    sim.open_door(door)
    sim.take_item(door)
    assert sim.close_door(door)
    clock.advance(seconds=5)
    _scan_out(staff, door, "RET-1")
    assert _state(rt, door) == "return_free"

    other = _kiosk_return(client, "RET-2")
    assert other != door
    sim.put_item(other)
    assert sim.close_door(other)
    # Every other return door is full: the kiosk says so rather than offer this one yet.
    assert _deposit(client, "RET-3")["outcome"] == "full"
    clock.advance(minutes=3)
    assert _kiosk_return(client, "RET-3") == door

