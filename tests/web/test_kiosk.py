"""The patron kiosk over the Flask test client: pickup three ways, returns, languages."""

from __future__ import annotations

from sqlalchemy import select

from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.returns import DepositRow
from tests.web.conftest import csrf_from, load_for_pickup


def _post(client, path, data):
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_from(page)})


def _state(rt, number, bank="main-lobby"):
    with unit_of_work(rt.sessions) as s:
        return s.scalar(select(CompartmentRow.state).where(CompartmentRow.bank_id == bank, CompartmentRow.number == number))


def test_card_and_pin_open_the_patrons_door(client, rt, ils, doors):
    loaded = load_for_pickup(rt, ils, doors, "31000001")
    resp = _post(client, "/kiosk/main-lobby/pickup/card", {"card": "21000001", "pin": "4321"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"Door {loaded.compartment} is open" in html
    assert doors["main-lobby"].is_open(loaded.compartment)
    assert _state(rt, loaded.compartment) == "picked_up"


def test_a_wrong_pin_opens_nothing_and_says_so(client, rt, ils, doors):
    loaded = load_for_pickup(rt, ils, doors, "31000002")
    resp = _post(client, "/kiosk/main-lobby/pickup/card", {"card": "21000001", "pin": "9999"})
    assert resp.status_code == 422
    assert "card number or PIN was not accepted" in resp.get_data(as_text=True)
    assert not doors["main-lobby"].is_open(loaded.compartment)


def test_the_typed_code_from_the_message_opens_the_door(client, rt, ils, doors):
    loaded = load_for_pickup(rt, ils, doors, "31000003")
    resp = _post(client, "/kiosk/main-lobby/pickup/code", {"code": loaded.code})
    assert f"Door {loaded.compartment} is open" in resp.get_data(as_text=True)


def test_the_qr_token_opens_the_door_and_works_only_once(client, rt, ils, doors):
    loaded = load_for_pickup(rt, ils, doors, "31000004")
    first = _post(client, "/kiosk/main-lobby/pickup/qr", {"qr": loaded.qr_token})
    assert first.status_code == 200
    second = _post(client, "/kiosk/main-lobby/pickup/qr", {"qr": loaded.qr_token})
    assert second.status_code == 422


def test_the_kiosk_speaks_spanish_when_asked(client, rt, ils, doors):
    assert "¿Qué desea hacer?" in client.get("/kiosk/main-lobby?lang=es").get_data(as_text=True)
    resp = _post(client, "/kiosk/main-lobby/pickup/code?lang=es", {"code": "000000", "lang": "es"})
    html = resp.get_data(as_text=True)
    assert 'lang="es"' in html and "Este código no abrió ningún casillero" in html


def test_a_return_opens_an_empty_return_door_and_records_the_deposit_when_it_closes(client, rt, ils, doors):
    ils.add_item("39000001", home="CENTRAL")
    ils.lend("21000001", "39000001")
    resp = _post(client, "/kiosk/main-lobby/return", {"item": "39000001"})
    assert resp.status_code == 200
    number = next(n for n in (13, 14) if doors["main-lobby"].is_open(n))
    assert f"Door {number} is open" in resp.get_data(as_text=True)
    doors["main-lobby"].put_item(number)
    doors["main-lobby"].close_door(number)
    with unit_of_work(rt.sessions) as s:
        deposit = s.scalars(select(DepositRow)).one()
    assert (deposit.item_barcode, deposit.compartment) == ("39000001", number)
    assert _state(rt, number) == "return_occupied"


def test_the_kiosk_refuses_a_form_without_its_csrf_token(client, rt, ils, doors):
    resp = client.post("/kiosk/main-lobby/pickup/code", data={"code": "123456"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/kiosk/main-lobby")


def test_an_unknown_bank_is_not_found(client, rt):
    assert client.get("/kiosk/nowhere").status_code == 404


def test_a_refused_item_is_explained_in_spanish_on_the_spanish_kiosk(client, rt, ils, doors):
    from decimal import Decimal

    loaded = load_for_pickup(rt, ils, doors, "31000010", title="Rayuela", fee=Decimal("1.50"))
    resp = _post(
        client,
        "/kiosk/main-lobby/pickup/card?lang=es",
        {"card": "21000001", "pin": "4321", "lang": "es"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Este préstamo cuesta 1.50 USD. ¿Acepta pagarlo?" in html
    assert "Rayuela" in html and "Este documento tiene un cargo de 1.50 USD" in html
    assert "This loan" not in html and "Confirm" not in html
    assert "fee=1" in html  # the way to accept the charge
    assert not doors["main-lobby"].is_open(loaded.compartment)


def test_every_kiosk_text_has_a_spanish_version():
    from bridge.web.kiosk.text import EN, ES

    assert sorted(set(EN) - set(ES)) == []
