""""Send me a receipt" after a pickup and after an equipment loan: the result screen offers it,
the patron taps it, and the receipt (each item with the due date the library system's checkout
reply gave) arrives at a real SMTP server, once however often the button is pressed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.notify import delivery
from bridge.services import receipts
from bridge.storage.db import unit_of_work
from bridge.storage.tables.notifications import NotificationRow
from bridge.web.kiosk.words import due_date
from tests.support.acs import use_acs
from tests.support.servers import Mailbox, email_settings
from tests.web.conftest import (
    ask_receipt,
    csrf_from,
    load_for_pickup,
    receipt_offer,
    stock,
    web_config,
)

ANA, ANA_PIN, HOTSPOT = "23000000000001", "1234", "39000000000020"


@pytest.fixture
def web_settings(tmp_path: Path, mailbox: Mailbox, request: pytest.FixtureRequest) -> Settings:
    cfg = web_config(tmp_path)
    cfg["notifications"] = {
        "library_name": "Riverside Public Library",
        "email": email_settings(mailbox),
    }
    if "acs" in request.fixturenames:
        use_acs(cfg, request.getfixturevalue("acs"))
    return load_settings(None, **cfg)


def _deliver_all(rt: Any) -> list[NotificationRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(NotificationRow).where(NotificationRow.kind == "picked_up")))
    for row in rows:
        delivery.run(rt, "notification", str(row.id))
    return rows


def test_a_receipt_after_a_pickup_arrives_by_email_once(
    client: FlaskClient, rt: Any, ils: Any, doors: Any, mailbox: Mailbox
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31009001", title="Kindred")
    page = client.get("/kiosk/main-lobby/pickup/code").get_data(as_text=True)
    result = client.post(
        "/kiosk/main-lobby/pickup/code", data={"code": loaded.code, "csrf_token": csrf_from(page)}
    ).get_data(as_text=True)
    assert "Send me a receipt" in result
    offer = receipt_offer(result)
    assert "21000001" not in result and "Kindred" not in offer  # the offer is sealed
    mailbox.messages.clear()  # the ready-for-pickup message of the load

    first = ask_receipt(client, offer)
    again = ask_receipt(client, offer)  # a second tap: still one message
    assert first.status_code == again.status_code == 200
    assert "A receipt is on its way" in first.get_data(as_text=True)
    assert len(_deliver_all(rt)) == 1
    [(_, to, msg)] = mailbox.messages
    assert to == ["p@example.org"]
    body = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    due = ils._items["31009001"].due  # what the checkout reply said
    assert due is not None
    assert "Kindred" in body and f"{due.day}" in body and f"{due.year}" in body


def test_an_equipment_loan_receipt_in_the_patrons_language_with_the_acs_due_date(
    client: FlaskClient, rt: Any, acs: Any, doors: Any, mailbox: Mailbox
) -> None:
    stock(rt, doors, 16, HOTSPOT, "hotspot")
    data = {"category": "hotspot", "card": ANA, "pin": ANA_PIN, "fee_acknowledged": "1"}
    page = client.get("/kiosk/main-lobby/equipment?lang=es").get_data(as_text=True)
    result = client.post(
        "/kiosk/main-lobby/equipment?lang=es", data={**data, "csrf_token": csrf_from(page)}
    ).get_data(as_text=True)
    due = acs.catalogue.item(HOTSPOT).due
    assert due is not None
    shown = due_date("es", due, rt.settings.bank("main-lobby").timezone)
    assert f"<td>Wi-Fi hotspot</td><td>{shown}</td>" in result
    assert "Enviarme un recibo" in result
    resp = ask_receipt(client, receipt_offer(result), "es")
    assert resp.status_code == 200
    assert "Le enviamos un recibo" in resp.get_data(as_text=True)
    [row] = _deliver_all(rt)
    assert row.facts["loans"] == [{"title": "Wi-Fi hotspot", "due": due.isoformat()}]
    [(_, to, msg)] = mailbox.messages
    assert to == ["ana@example.org"]
    body = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Wi-Fi hotspot: devolver antes del" in body


def test_an_offer_from_another_bank_or_a_forged_one_sends_nothing(
    client: FlaskClient, rt: Any
) -> None:
    lent = [receipts.LentItem("Kindred", None)]
    other = receipts.offer(rt, "east-station", "21000001", lent, "pickup")
    assert other is not None
    for offer in (other, "v1:nope:AAAA", "not an offer"):
        resp = ask_receipt(client, offer)
        assert resp.status_code == 410
        assert "can no longer be sent" in resp.get_data(as_text=True)
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(NotificationRow).where(NotificationRow.kind == "picked_up")).all() == []
