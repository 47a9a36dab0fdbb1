"""Alerts end to end: a door left open reaches staff by e-mail and a signed webhook, shows on
the work list, is sent once however often the check runs, and is cleared when the door shuts.
The staff runtime of this package runs on a clock the test moves, with a real SMTP server and a
real HTTP webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from bridge.alerts.check import check_alerts
from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.loading import scan_item
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, BankRow
from bridge.storage.tables.returns import DepositRow
from lockers.drivers.simulated import SimFault
from tests.support.clock import START, Clock
from tests.support.servers import Gateway, Mailbox, start_gateway, stop_gateway
from tests.web.conftest import Account, sign_in, web_config

SECRET = "alert-webhook-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Gateway]:
    """A chat tool's incoming-webhook endpoint: records every POST it answers."""
    gw = start_gateway()
    yield gw
    stop_gateway(gw)


@pytest.fixture
def web_settings(tmp_path: Path, mailbox: Mailbox, receiver: Gateway) -> Settings:
    cfg: dict[str, Any] = web_config(tmp_path)
    cfg["notifications"] = {
        "library_name": "Riverside Public Library",
        "email": {"host": "127.0.0.1", "port": mailbox.port, "sender": "lockers@library.example"},
    }
    cfg["alerts"] = {
        "email_to": ["desk@library.example"],
        "webhook_url": receiver.url,
        "webhook_secret": SECRET,
        "deposits_waiting_minutes": 20,
    }
    return load_settings(None, **cfg)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)  # the staff runtime (``rt``) runs on it


def _open_a_door(rt: Runtime, ils: Any) -> int:
    """Staff scan a hold; its door opens and nobody shuts it."""
    ils.add_item("39000000000501", home="CENTRAL", title="The Long Afternoon")
    ils.place_hold(
        "21000001", "39000000000501", pickup_location=rt.settings.bank("main-lobby").branch
    )
    result = scan_item(rt, "main-lobby", "39000000000501", "staff:loader")
    assert result.compartment is not None, result
    return result.compartment


def _verify(request: Any) -> dict[str, Any]:
    stamp = request.headers["x-lockerbridge-timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers["x-lockerbridge-signature"] == "sha256=" + mac.hexdigest()
    assert request.headers["content-type"] == "application/json"
    payload: dict[str, Any] = json.loads(request.body)
    return payload


def test_door_left_open_reaches_staff_by_mail_and_webhook_once_and_clears(
    rt: Runtime,
    clock: Clock,
    doors: Any,
    ils: Any,
    mailbox: Mailbox,
    receiver: Gateway,
    client: FlaskClient,
    accounts: dict[Role, Account],
) -> None:
    door = _open_a_door(rt, ils)
    check_alerts(rt)
    assert mailbox.messages == [] and receiver.answered == []  # not yet: 2 minutes allowed

    clock.advance(minutes=3)
    first = check_alerts(rt)
    assert first.raised == 1 and first.delivered == 2
    ((_sender, rcpts, mail),) = mailbox.messages
    assert rcpts == ["desk@library.example"]
    assert f"Door {door} at Main Library lobby has been open" in mail["Subject"]
    assert "Warning" in mail["Subject"]
    (hook,) = receiver.answered
    payload = _verify(hook)
    assert payload["event"] == "raised" and payload["rule"] == "door_open"
    assert payload["bank"] == {"id": "main-lobby", "name": "Main Library lobby"}
    assert payload["compartment"] == door and payload["severity"] == "warning"

    # Checked again and again while the door stays open: still one alert, nothing resent.
    for _ in range(3):
        clock.advance(seconds=30)
        again = check_alerts(rt)
        assert (again.raised, again.delivered) == (0, 0)
    assert len(mailbox.messages) == 1 and len(receiver.answered) == 1

    # The work list shows it, linked to the door.
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/work").get_data(as_text=True)
    assert "Alerts (1)" in page
    assert f"Door {door} at Main Library lobby has been open for more than 2 minutes" in page
    assert f"/staff/banks/main-lobby/{door}" in page

    doors["main-lobby"].put_item(door)
    assert doors["main-lobby"].close_door(door)
    done = check_alerts(rt)
    assert done.cleared == 1 and done.delivered == 2
    assert "[Cleared]" in mailbox.messages[1][2]["Subject"]
    cleared = _verify(receiver.answered[1])
    assert cleared["event"] == "cleared" and cleared["alert"] == payload["alert"]
    assert cleared["cleared_at"] is not None
    assert "Alerts (0)" in client.get("/staff/work").get_data(as_text=True)


def test_a_failed_delivery_is_retried_without_repeating_the_others(
    rt: Runtime, clock: Clock, doors: Any, ils: Any, mailbox: Mailbox, receiver: Gateway
) -> None:
    _open_a_door(rt, ils)
    clock.advance(minutes=3)
    receiver.statuses = [503]  # the chat tool is down for the first try
    first = check_alerts(rt)
    assert first.delivered == 1  # the e-mail
    assert receiver.answered == [] and len(mailbox.messages) == 1
    clock.advance(seconds=30)
    second = check_alerts(rt)
    assert second.delivered == 1
    assert len(receiver.answered) == 1 and len(mailbox.messages) == 1


def test_rules_raise_and_clear_from_known_state(
    rt: Runtime,
    clock: Clock,
    doors: Any,
    ils: Any,
    mailbox: Mailbox,
    receiver: Gateway,
    client: FlaskClient,
    accounts: dict[Role, Account],
) -> None:
    from bridge.services.banks import audit

    # The controller stops answering: staff scanning a hold find the door will not open.
    doors["main-lobby"].set_fault(SimFault.OFFLINE)
    ils.add_item("39000000000502", home="CENTRAL", title="Offline")
    ils.place_hold("21000001", "39000000000502", pickup_location="MAIN-LOCKER")
    scan_item(rt, "main-lobby", "39000000000502", "staff:loader")
    with unit_of_work(rt.sessions) as s:
        # A return the catalogue has not confirmed for half an hour, and code guessing.
        s.add(
            DepositRow(
                bank_id="east-station",
                compartment=1,
                item_barcode="390009",
                deposited_at=clock(),
                state="waiting_for_ils",
            )
        )
        audit(s, "code_guessing_alert", at=clock(), bank_id="east-station", failures=25)
    clock.advance(minutes=30)
    result = check_alerts(rt)
    rules = {p["rule"]: p for p in (_verify(r) for r in receiver.answered)}
    assert {"controller_offline", "deposits_waiting", "guessing"} <= set(rules), rules
    assert rules["controller_offline"]["severity"] == "critical"
    assert "1 return has waited more than 20 minutes" in rules["deposits_waiting"]["summary"]
    assert result.raised == len(receiver.answered)

    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/work").get_data(as_text=True)
    # Urgent ones first: the controller and the guessing come before the waiting return.
    assert page.index("Urgent:") < page.index("Warning:")

    # Each cause ends: the controller answers again, the return is checked in, a day passes.
    doors["main-lobby"].clear_fault(SimFault.OFFLINE)
    with unit_of_work(rt.sessions) as s:
        s.execute(update(BankRow).values(controller_online=True, controller_seen_at=clock()))
        s.execute(update(DepositRow).values(state="checked_in"))
    clock.advance(hours=25)
    check_alerts(rt)
    cleared = {
        p["rule"] for p in (_verify(r) for r in receiver.answered) if p["event"] == "cleared"
    }
    assert {"controller_offline", "deposits_waiting", "guessing"} <= cleared
    with unit_of_work(rt.sessions) as s:
        kinds = set(s.scalars(select(AuditEventRow.kind)))
    assert {"alert_raised", "alert_cleared"} <= kinds
