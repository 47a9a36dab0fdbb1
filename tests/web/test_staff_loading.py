"""The loading and equipment-stocking screens over the Flask test client, with the in-memory
ILS and simulated doors wired to the real event handling."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.lockers import EquipmentRow, LoadRow
from bridge.storage.tables.notifications import NotificationRow
from tests.web.conftest import csrf_from, sign_in

LOAD = "/staff/banks/main-lobby/load"
EQUIPMENT = "/staff/banks/main-lobby/equipment"


def _scan(client: Any, barcode: str, **extra: str) -> str:
    page = client.get(LOAD).get_data(as_text=True)
    resp = client.post(LOAD, data={"barcode": barcode, "csrf_token": csrf_from(page), **extra})
    assert resp.status_code == 302  # post, redirect, get: a reload never scans twice
    return client.get(LOAD).get_data(as_text=True)


def _state(rt: Any, number: int) -> str:
    with unit_of_work(rt.sessions) as s:
        return s.scalars(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == number
            )
        ).one()


def _hold(ils: Any, item: str, patron: str = "21000001", pickup: str = "MAIN-LOCKER") -> None:
    ils.add_item(item, home="CENTRAL", title=f"Book {item}")
    ils.place_hold(patron, item, pickup_location=pickup)


def _fill_small_doors(client: Any, ils: Any) -> None:
    for n in range(6):  # six other patrons take the six small doors
        _hold(ils, f"3100010{n}", patron=f"2100010{n}")
        ils.add_patron(f"2100010{n}", "1111")
        assert "is open" in _scan(client, f"3100010{n}")


def test_a_held_item_opens_a_door_and_says_so_in_large_words(client, rt, ils, doors, accounts):
    sign_in(client, accounts[Role.STAFF])
    _hold(ils, "31000001")

    html = _scan(client, "31000001")

    assert 'id="barcode"' in html and "autofocus" in html
    with unit_of_work(rt.sessions) as s:
        door = s.scalars(select(LoadRow.compartment).where(LoadRow.item_barcode == "31000001")).one()
    assert f"Door {door} is open — put the item in and close the door" in html
    assert doors["main-lobby"].is_open(door)
    assert f"Close door {door} (simulation)" in html


def test_two_items_for_one_patron_go_to_the_same_door_and_both_are_listed(
    client, rt, ils, doors, accounts
):
    sign_in(client, accounts[Role.STAFF])
    _fill_small_doors(client, ils)  # so the patron's first item gets a medium door, half full
    _hold(ils, "31000011")
    _hold(ils, "31000012")

    _scan(client, "31000011")
    html = _scan(client, "31000012")

    with unit_of_work(rt.sessions) as s:
        doors_used = set(
            s.scalars(
                select(LoadRow.compartment).where(LoadRow.item_barcode.in_(("31000011", "31000012")))
            ).all()
        )
    assert doors_used == {7}
    assert "Door 7 is open — put the item in and close the door" in html
    table = html.split("Scanned since you signed in")[1]
    assert "31000011" in table and "31000012" in table
    assert table.index("31000012") < table.index("31000011")  # newest first


def test_refusals_read_as_plain_instructions(client, rt, ils, doors, accounts):
    sign_in(client, accounts[Role.STAFF])
    _hold(ils, "31000021", pickup="EAST-LOCKER")
    ils.add_item("31000022", home="MAIN-LOCKER")  # its home: no transit either

    elsewhere = _scan(client, "31000021")
    assert "Not for this bank: send to EAST-LOCKER (East station)" in elsewhere
    assert "Unknown barcode" in _scan(client, "no-such-item")
    # No hold waits for a stray shelf item: it is not checked in unless staff confirm.
    assert "No hold waits here for this item — check it in anyway?" in _scan(client, "31000022")
    assert "No hold waits here — reshelve it" in _scan(client, "31000022", confirm="checkin")
    assert not any(doors["main-lobby"].is_open(n) for n in range(1, 17))


def test_a_full_bank_sends_the_item_to_the_hold_shelf(client, rt, ils, doors, accounts):
    sign_in(client, accounts[Role.STAFF])
    _fill_small_doors(client, ils)
    _hold(ils, "31000199", patron="21000199")
    ils.add_patron("21000199", "1111")

    html = _scan(client, "31000199", size="XL")

    assert "Bank full — hold shelf instead" in html


def test_closing_the_door_in_the_simulation_loads_it_and_tells_the_patron(
    client, rt, ils, doors, accounts
):
    sign_in(client, accounts[Role.STAFF])
    _hold(ils, "31000031")
    page = _scan(client, "31000031")
    with unit_of_work(rt.sessions) as s:
        door = s.scalars(select(LoadRow.compartment)).one()

    resp = client.post(
        "/staff/banks/main-lobby/simulate/close",
        data={"number": door, "handling": "put", "back": "load", "csrf_token": csrf_from(page)},
    )

    assert resp.status_code == 302
    assert _state(rt, door) == "loaded"
    assert not doors["main-lobby"].is_open(door) and doors["main-lobby"].items_in(door) == 1
    with unit_of_work(rt.sessions) as s:
        kinds = s.scalars(select(NotificationRow.kind)).all()
    assert len(kinds) == 1  # the ready-for-pickup message, queued only now
    after = client.get(LOAD).get_data(as_text=True)
    assert f"Door {door} is closed (simulation)" in after
    assert f"Close door {door} (simulation)" not in after
    # The screen confirms the load instead of still asking for the item to go in.
    assert f"Loaded into door {door} — the patron&#39;s message is on its way" in after
    assert "put the item in" not in after


def test_viewers_may_not_load_and_the_status_page_links_staff_to_each_bank(
    client, rt, accounts
):
    sign_in(client, accounts[Role.VIEWER])
    assert client.get(LOAD).status_code == 403
    assert "/staff/banks/main-lobby/load" not in client.get("/staff/").get_data(as_text=True)
    client.post("/staff/logout", data={"csrf_token": csrf_from(client.get("/staff/").get_data(as_text=True))})

    sign_in(client, accounts[Role.STAFF])
    status = client.get("/staff/").get_data(as_text=True)
    assert "/staff/banks/main-lobby/load" in status and "/staff/banks/east-station/load" in status
    assert "/staff/banks/main-lobby/equipment" in status
    assert "/staff/banks/east-station/equipment" not in status  # no equipment doors there


def test_a_scan_without_a_csrf_token_changes_nothing(client, rt, ils, doors, accounts):
    sign_in(client, accounts[Role.STAFF])
    _hold(ils, "31000041")
    resp = client.post(LOAD, data={"barcode": "31000041"})
    assert resp.status_code == 400
    assert not any(doors["main-lobby"].is_open(n) for n in range(1, 17))


def test_equipment_is_stocked_into_a_door_and_listed_per_door(client, rt, doors, accounts):
    sign_in(client, accounts[Role.STAFF])
    page = client.get(EQUIPMENT).get_data(as_text=True)
    assert "Laptop" in page and "Wi-Fi hotspot" in page

    resp = client.post(
        EQUIPMENT,
        data={"item": "39000000000017", "category": "laptop", "door": "15", "title": "Laptop 01",
              "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 302
    html = client.get(EQUIPMENT).get_data(as_text=True)
    assert "Door 15 is open — put the Laptop 01 in and close the door." in html
    assert doors["main-lobby"].is_open(15)
    assert "Close door 15 (simulation)" in html

    client.post(
        "/staff/banks/main-lobby/simulate/close",
        data={"number": "15", "handling": "put", "back": "equipment", "csrf_token": csrf_from(html)},
    )
    listed = client.get(EQUIPMENT).get_data(as_text=True)
    row = listed.split('id="door-15"')[1].split("</tr>")[0]
    assert "Laptop 01 (39000000000017): available" in row
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(EquipmentRow.state)).one() == "available"


def test_stocking_a_door_that_is_not_for_equipment_is_refused_with_the_reason(
    client, rt, doors, accounts
):
    sign_in(client, accounts[Role.STAFF])
    page = client.get(EQUIPMENT).get_data(as_text=True)
    client.post(
        EQUIPMENT,
        data={"item": "39000000000017", "category": "laptop", "door": "3",
              "csrf_token": csrf_from(page)},
    )
    html = client.get(EQUIPMENT).get_data(as_text=True)
    assert "Nothing was stocked: compartment 3 is not an equipment compartment." in html
    assert not doors["main-lobby"].is_open(3)


def test_returned_devices_are_listed_and_an_inspection_is_recorded(client, rt, doors, accounts):
    # Two devices came back through a return door (tests/flows cover that path): one waits for
    # its inspection, one is ready to be put in a door again.
    with unit_of_work(rt.sessions) as s:
        s.add(EquipmentRow(item_barcode="LAP7", bank_id="main-lobby", compartment=None,
                           category="laptop", title="Laptop 07", state="inspection"))
        s.add(EquipmentRow(item_barcode="LAP8", bank_id="main-lobby", compartment=None,
                           category="laptop", title="Laptop 08", state="available"))
    sign_in(client, accounts[Role.STAFF])
    page = client.get(EQUIPMENT).get_data(as_text=True)
    assert "Laptop 07 (LAP7)" in page.split('id="returned-LAP7"')[1].split("</tr>")[0]
    assert "waits for inspection" in page and "ready to stock" in page

    resp = client.post(
        EQUIPMENT + "/inspection",
        data={"item": "LAP7", "verdict": "withdrawn", "note": "cracked screen",
              "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 302
    html = client.get(EQUIPMENT).get_data(as_text=True)
    assert "LAP7 is withdrawn from lending." in html
    assert 'id="returned-LAP7"' not in html
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(EquipmentRow.state).where(EquipmentRow.item_barcode == "LAP7")).one() == "withdrawn"

    # The same verdict again, or for a device that needs none, changes nothing and says why.
    client.post(EQUIPMENT + "/inspection",
                data={"item": "LAP8", "verdict": "passed", "csrf_token": csrf_from(html)})
    assert "Nothing was recorded: LAP8 does not wait for an inspection." in client.get(EQUIPMENT).get_data(as_text=True)
