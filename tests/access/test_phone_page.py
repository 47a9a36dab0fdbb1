"""The phone page in a real browser (Debian's chromium) at a phone-sized viewport."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from bridge.runtime import Runtime
from bridge.services.access import phone
from bridge.services.access.kiosks import enrol
from sip2.acs.server import ReferenceACS
from tests.access.conftest import ANA, ANA_ITEM, audits, load_hold, phone_link, sim

pytestmark = pytest.mark.browser


def _fits_the_screen(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    box = page.get_by_role("button", name="Open my locker").bounding_box()
    assert box is not None and box["height"] >= 44  # a comfortable touch target


def test_a_patron_types_the_kiosk_number_on_the_phone_and_the_door_opens(
    rt: Runtime, acs: ReferenceACS, live_url: str, page: Page
) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)

    page.goto(f"{live_url}/phone/{token}")
    expect(page.get_by_role("heading", name="Your items are ready")).to_be_visible()
    expect(page.get_by_text("The Left Hand of Darkness")).to_be_visible()
    _fits_the_screen(page)

    east, _ = phone.kiosk_code(rt, "east-station")
    page.get_by_label("Number on the locker screen").fill(east)
    page.get_by_role("button", name="Open my locker").click()
    expect(page.get_by_role("alert")).to_contain_text("from the East station lockers")
    assert not sim(rt).is_open(door)

    code, _ = phone.kiosk_code(rt, "main-lobby")
    page.get_by_label("Number on the locker screen").fill(code)
    page.get_by_role("button", name="Open my locker").click()

    expect(page.get_by_role("status")).to_contain_text(f"Door {door} is open")
    assert sim(rt).is_open(door)
    assert acs.engine.catalogue.item(ANA_ITEM).charged_to == ANA

    page.goto(f"{live_url}/phone/{token}")  # the same link again
    expect(page.get_by_role("alert")).to_contain_text("already used")


def test_scanning_the_kiosk_qr_code_with_the_phone_confirms_before_opening(
    rt: Runtime, live_url: str, page: Page
) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    page.goto(f"{live_url}/phone/{token}")  # the patron opened the message's link earlier

    kiosk = page.context.browser.new_context(  # type: ignore[union-attr]
        extra_http_headers={
            "X-Lockerbridge-Kiosk": enrol(rt, "main-lobby", "Lobby", actor="staff:admin")[1]
        }
    )
    screen = kiosk.new_page()
    screen.goto(f"{live_url}/phone/presence/main-lobby?format=json")
    scanned = screen.evaluate("JSON.parse(document.body.innerText).url")
    kiosk.close()
    assert scanned.startswith("http://lockers.test/phone/here/main-lobby?code=")

    page.goto(live_url + scanned.removeprefix("http://lockers.test"))
    assert not sim(rt).is_open(door)  # a GET changes nothing
    page.get_by_role("button", name="Open my locker").click()

    expect(page.get_by_role("status")).to_contain_text(f"Door {door} is open")
    assert audits(rt, "phone_presence_confirmed")


def test_the_presence_screen_is_only_for_the_banks_kiosk(live_url: str, page: Page) -> None:
    response = page.goto(f"{live_url}/phone/presence/main-lobby")
    assert response is not None and response.status == 403
