"""Search and door detail over real HTTP: "where is my hold?" by barcode, title, card or name,
with the patron hidden from viewers and gone once the privacy rules clear it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from bridge.runtime import Runtime
from bridge.services.loading import scan_item
from bridge.services.retention import purge_now
from bridge.services.staff.accounts import Role
from tests.web.conftest import Account, sign_in


def test_staff_find_a_hold_loaded_against_the_acs_by_every_key(
    rt: Runtime, acs: Any, doors: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    # Ana's hold (H1) is checked in at the bank over SIP2; Koha sends her name with it (DA).
    result = scan_item(rt, "main-lobby", "39000000000001", "staff:loader")
    assert result.compartment is not None, result
    door = result.compartment
    doors["main-lobby"].put_item(door)
    assert doors["main-lobby"].close_door(door)

    sign_in(client, accounts[Role.STAFF])
    link = f'href="/staff/banks/main-lobby/{door}"'
    for query in ("39000000000001", "23000000000001", "garcía", "Ana"):
        page = client.get("/staff/search", query_string={"q": query}).get_data(as_text=True)
        assert "1 found" in page, (query, page)
        assert link in page
        assert "Ana García (•••• 0001)" in page
        assert "Waiting for pickup since" in page and ", until " in page
    # Too short for a name search: nobody lists patrons letter by letter.
    page = client.get("/staff/search", query_string={"q": "cí"}).get_data(as_text=True)
    assert "0 found" in page

    detail = client.get(f"/staff/banks/main-lobby/{door}").get_data(as_text=True)
    assert "Inside" in detail and "item 39000000000001" in detail
    assert "Ana García (•••• 0001)" in detail


def test_viewers_search_items_and_titles_but_never_see_or_search_patrons(
    rt: Runtime, ils: Any, doors: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    from tests.web.conftest import load_for_pickup

    ils.add_patron("21000002", "1111", name="Bea Okafor")
    loaded = load_for_pickup(
        rt, ils, doors, "39000000000777", patron="21000002", title="A Field Guide to Moss"
    )
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/search", query_string={"q": "field guide"}).get_data(as_text=True)
    assert "1 found" in page and "A Field Guide to Moss" in page
    assert "A patron (hidden from viewers)" in page
    assert "Okafor" not in page and "21000002" not in page and "0002" not in page
    for query in ("21000002", "Okafor"):
        page = client.get("/staff/search", query_string={"q": query}).get_data(as_text=True)
        assert "0 found" in page
    detail = client.get(f"/staff/banks/main-lobby/{loaded.compartment}").get_data(as_text=True)
    assert "A Field Guide to Moss" in detail and "Okafor" not in detail


def test_after_pickup_the_privacy_rules_end_what_search_can_find(
    rt: Runtime, ils: Any, doors: Any, client: FlaskClient, accounts: dict[Role, Account]
) -> None:
    from bridge.services.pickup import pickup_with_code
    from tests.web.conftest import load_for_pickup

    ils.add_patron("21000003", "2222", name="Carl Jensen")
    loaded = load_for_pickup(rt, ils, doors, "39000000000888", patron="21000003", title="Tides")
    outcome = pickup_with_code(rt, "main-lobby", loaded.code)
    assert outcome.opened == (loaded.compartment,), outcome
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/search", query_string={"q": "Jensen"}).get_data(as_text=True)
    assert "Picked up" in page  # within the day the link is kept

    real = rt.clock
    rt.clock = lambda: real() + timedelta(hours=25)
    try:
        purge_now(rt)
    finally:
        rt.clock = real
    for query in ("Jensen", "21000003", "Tides"):
        page = client.get("/staff/search", query_string={"q": query}).get_data(as_text=True)
        assert "0 found" in page and "Carl" not in page, query
