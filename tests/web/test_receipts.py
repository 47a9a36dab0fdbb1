"""Receipts after a pickup: the screen lists each item with the due date from the library
system's checkout reply, and, when the library sends receipts, one is queued for the patron's
message channel in the pickup's own transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.storage.db import unit_of_work
from bridge.storage.tables.notifications import NotificationRow
from bridge.web.kiosk.words import due_date
from tests.web.conftest import csrf_from, load_for_pickup, web_config


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    cfg = web_config(tmp_path)
    cfg["notifications"] = {
        "library_name": "Riverside Public Library",
        "send_pickup_receipt": True,
        "email": {"enabled": True, "host": "127.0.0.1", "port": 1},
    }
    return load_settings(None, **cfg)


def _receipts(rt: Any) -> list[NotificationRow]:
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(select(NotificationRow).where(NotificationRow.kind == "picked_up"))
        return list(rows)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_pickup_lists_each_item_with_its_due_date_and_queues_a_receipt(
    client: FlaskClient, rt: Any, ils: Any, doors: Any, lang: str
) -> None:
    load_for_pickup(rt, ils, doors, "31008001", title="Kindred")
    load_for_pickup(rt, ils, doors, "31008002", title="Beloved")
    page = client.get(f"/kiosk/main-lobby/pickup/card?lang={lang}").get_data(as_text=True)
    resp = client.post(
        f"/kiosk/main-lobby/pickup/card?lang={lang}",
        data={"card": "21000001", "pin": "4321", "lang": lang, "csrf_token": csrf_from(page)},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    dues: dict[str, datetime] = {}
    for item, title in (("31008001", "Kindred"), ("31008002", "Beloved")):
        due = ils._items[item].due  # what the ILS put in its checkout reply
        assert due is not None
        dues[title] = due
        shown = due_date(lang, due, "UTC")
        assert f"<td>{title}</td><td>{shown}</td>" in html
    assert ("A receipt is on its way" if lang == "en" else "Le enviamos un recibo") in html
    assert 'name="offer"' not in html  # sent anyway: nothing to ask for
    [receipt] = _receipts(rt)
    assert receipt.patron == "21000001"
    loans = {ln["title"]: ln["due"] for ln in receipt.facts["loans"]}
    assert loans == {t: d.isoformat() for t, d in dues.items()}


def test_no_receipt_is_queued_when_nothing_was_lent(
    client: FlaskClient, rt: Any, ils: Any, doors: Any
) -> None:
    page = client.get("/kiosk/main-lobby/pickup/card").get_data(as_text=True)
    client.post(
        "/kiosk/main-lobby/pickup/card",
        data={"card": "21000001", "pin": "4321", "csrf_token": csrf_from(page)},
    )
    assert _receipts(rt) == []
