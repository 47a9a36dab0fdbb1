"""A receipt asked for at the kiosk after an offline pickup says the due date follows; the
message sent once the ILS recorded the loan brings it (reference ACS over TCP, e-mail through a
real SMTP server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.notify import delivery
from bridge.services.offline_loans import replay_waiting, send_offline_loan
from bridge.storage.db import unit_of_work
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.offline import OfflineLoanRow
from tests.support.acs import use_acs
from tests.support.servers import Mailbox, email_settings
from tests.web.conftest import ask_receipt, csrf_from, load_hold, receipt_offer, web_config

BOOK_1 = "39000000000001"  # held for Ana at MAIN-LOCKER in the sample catalogue


@pytest.fixture
def web_settings(tmp_path: Path, mailbox: Mailbox, acs: Any) -> Settings:
    cfg = use_acs(web_config(tmp_path), acs)
    cfg["notifications"] = {"library_name": "Riverside", "email": email_settings(mailbox)}
    for bank in cfg["banks"]:
        bank["offline_pickup"] = "codes"
    return load_settings(None, **cfg)


def _bodies(rt: Any, mailbox: Mailbox) -> list[str]:
    with unit_of_work(rt.sessions) as s:
        ids = s.scalars(
            select(NotificationRow.id).where(NotificationRow.kind == "picked_up")
        ).all()
    for ref in ids:
        delivery.run(rt, "notification", str(ref))
    return [m.get_body(preferencelist=("plain",)).get_content() for _, _, m in mailbox.messages]  # type: ignore[union-attr]


def test_the_receipt_says_the_due_date_follows_and_the_next_message_brings_it(
    client: FlaskClient, rt: Any, acs: Any, doors: Any, mailbox: Mailbox
) -> None:
    _, code = load_hold(rt, doors, BOOK_1)
    acs.go_down()
    page = client.get("/kiosk/main-lobby/pickup/code").get_data(as_text=True)
    result = client.post(
        "/kiosk/main-lobby/pickup/code", data={"code": code, "csrf_token": csrf_from(page)}
    ).get_data(as_text=True)
    assert ask_receipt(client, receipt_offer(result)).status_code == 200

    acs.come_back()
    replay_waiting(rt)
    with unit_of_work(rt.sessions) as s:
        loan_id = s.scalars(select(OfflineLoanRow.id)).one()
    assert send_offline_loan(rt, loan_id) == "recorded"
    mailbox.messages.clear()  # the ready-for-pickup message of the load

    bodies = _bodies(rt, mailbox)

    # Ana reads Spanish (the catalogue says so). The receipt: no due date yet, it follows.
    [receipt] = [b for b in bodies if "registrarán" in b]
    assert "fechas de devolución" in receipt and "devolver antes" not in receipt
    # Then the message once the ILS recorded the loan, with its due date.
    [confirmed] = [b for b in bodies if "ya ha registrado" in b]
    assert "devolver antes del" in confirmed
