"""Borrowing equipment at the kiosk, end to end: the page, the equipment service, our SIP2
client and the reference ACS with the sample catalogue, and the simulated bank driver."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import EquipmentRow
from tests.web.conftest import csrf_from, stock

ADULT, ADULT_PIN = "23000000000001", "1234"
CHILD, CHILD_PIN = "23000000000007", "7890"
LAPTOP, HOTSPOT = "39000000000017", "39000000000020"


def _borrow(client: Any, data: dict[str, str], query: str = "") -> Any:
    page = client.get(f"/kiosk/main-lobby/equipment{query}").get_data(as_text=True)
    return client.post(
        f"/kiosk/main-lobby/equipment{query}", data={**data, "csrf_token": csrf_from(page)}
    )


def _equipment_state(rt: Any, item: str) -> str:
    with unit_of_work(rt.sessions) as s:
        return s.scalars(select(EquipmentRow.state).where(EquipmentRow.item_barcode == item)).one()


def test_an_adult_borrows_a_laptop_and_its_door_opens(client, rt, acs, doors):
    stock(rt, doors, 15, LAPTOP, "laptop")
    form = client.get("/kiosk/main-lobby/equipment").get_data(as_text=True)
    assert "Laptop" in form and "1 available" in form

    resp = _borrow(client, {"category": "laptop", "card": ADULT, "pin": ADULT_PIN})

    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "Door 15 is open" in resp.get_data(as_text=True)
    assert doors["main-lobby"].is_open(15)
    [loan] = acs.ledger.checkouts(LAPTOP)
    assert loan.patron == ADULT and loan.ok
    assert _equipment_state(rt, LAPTOP) == "on_loan"


def test_the_hotspot_fee_must_be_accepted_before_its_door_opens(client, rt, acs, doors):
    stock(rt, doors, 16, HOTSPOT, "hotspot")

    asked = _borrow(client, {"category": "hotspot", "card": ADULT, "pin": ADULT_PIN})

    html = asked.get_data(as_text=True)
    assert asked.status_code == 422 and "costs 2.00" in html
    assert not doors["main-lobby"].is_open(16)
    assert _equipment_state(rt, HOTSPOT) == "available"
    assert not any(e.ok for e in acs.ledger.checkouts(HOTSPOT))  # no loan, no charge
    assert "category=hotspot" in html and "fee=1" in html  # the way to accept the charge
    agreed = _borrow(
        client,
        {"category": "hotspot", "card": ADULT, "pin": ADULT_PIN, "fee_acknowledged": "1"},
        "?category=hotspot&fee=1",
    )
    assert agreed.status_code == 200 and "Door 16 is open" in agreed.get_data(as_text=True)
    assert doors["main-lobby"].is_open(16)
    assert [e.patron for e in acs.ledger.checkouts(HOTSPOT) if e.ok] == [ADULT]


def test_a_child_card_is_refused_a_laptop_with_the_reason_in_english_and_in_spanish(
    client, rt, acs, doors
):
    stock(rt, doors, 15, LAPTOP, "laptop")

    english = _borrow(client, {"category": "laptop", "card": CHILD, "pin": CHILD_PIN})
    spanish = _borrow(
        client, {"category": "laptop", "card": CHILD, "pin": CHILD_PIN, "lang": "es"}, "?lang=es"
    )

    assert english.status_code == 422
    # What to do next, never the library system's own words (they are not the patron's).
    assert "You cannot borrow this right now. To find out why, ask at the library desk" in (
        english.get_data(as_text=True)
    )
    html = spanish.get_data(as_text=True)
    assert spanish.status_code == 422 and 'lang="es"' in html
    assert "Ahora no puede tomar prestado este equipo" in html
    assert "child card" not in html and "You cannot" not in html
    assert not doors["main-lobby"].is_open(15)
    assert _equipment_state(rt, LAPTOP) == "available"


def test_a_wrong_pin_borrows_nothing_and_says_so_in_spanish(client, rt, acs, doors):
    stock(rt, doors, 15, LAPTOP, "laptop")
    resp = _borrow(
        client, {"category": "laptop", "card": ADULT, "pin": "0000", "lang": "es"}, "?lang=es"
    )
    assert resp.status_code == 422 and "No se aceptó el número de carné o el PIN" in (
        resp.get_data(as_text=True)
    )
    assert not doors["main-lobby"].is_open(15)
    assert acs.ledger.checkouts(LAPTOP) == []


def test_the_equipment_page_says_when_nothing_is_available(client, rt):
    html = client.get("/kiosk/main-lobby/equipment?lang=es").get_data(as_text=True)
    assert "Ahora no hay equipos disponibles" in html


def test_equipment_while_the_catalogue_is_marked_down_asks_to_come_back_later(
    client, rt, acs, doors
):
    from bridge.infra.ils_circuit import ils_of, mark_down

    stock(rt, doors, 15, LAPTOP, "laptop")
    mark_down(rt, ils_of(rt, "main-lobby"), "no answer to the ping")

    resp = _borrow(client, {"category": "laptop", "card": ADULT, "pin": ADULT_PIN})

    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "not answering right now, so no door opened" in html, html
    assert "Try again in a few minutes" in html
    assert not doors["main-lobby"].is_open(15)
    assert acs.ledger.checkouts(LAPTOP) == []
    assert _equipment_state(rt, LAPTOP) == "available"
