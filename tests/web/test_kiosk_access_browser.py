"""Access beyond the keypad at the kiosk, in a real browser (Debian's chromium through
Playwright), launched, served and checked exactly as in ``test_browser.py``: a live werkzeug
server with the CSP enforced, axe-core on every new page (no serious or critical violations),
screenshots in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Settings, load_settings
from bridge.services.access.phone import kiosk_code
from bridge.services.staff.accounts import Role
from tests.web import test_browser as shared
from tests.web.conftest import load_for_pickup, web_config
from tests.web.test_browser import LiveServer, audit_page, sign_in

# The same browser, live server and CSP watch as test_browser.py.
browser_type_launch_args = shared.browser_type_launch_args
live = shared.live
kiosk_cookie = shared.kiosk_cookie
csp_errors = shared.csp_errors

pytestmark = pytest.mark.browser

@pytest.fixture
def presence_window() -> int:
    return 60


@pytest.fixture
def kiosk_timeout() -> int:
    return 120  # long enough never to interfere; the time-out test sets its own


@pytest.fixture
def web_settings(tmp_path: Path, presence_window: int, kiosk_timeout: int) -> Settings:
    cfg = web_config(tmp_path, kiosk_timeout_seconds=kiosk_timeout)
    cfg["access"] = {
        "public_url": "http://lockers.test",
        "presence_window_seconds": presence_window,
    }
    cfg["dayuse"] = {"compartments": {"main-lobby": [11, 12]}, "max_hours": 4, "per_patron": 1}
    return load_settings(None, **cfg)


def _shown(page: Any) -> str:
    return str(page.locator("#presence-digits").inner_text()).replace(" ", "")


@pytest.mark.parametrize("kiosk_cookie", [False])
def test_staff_enrol_the_kiosk_then_a_card_read_asks_for_the_pin_and_the_door_opens(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, accounts: Any,
    csp_errors: list[str],
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31002001", title="Kindred")
    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_role("heading", name="This kiosk is not enrolled").wait_for()
    audit_page(page, live, "kiosk-not-enrolled")
    sign_in(page, live, accounts[Role.ADMIN])
    # The staff side of access: a new code from the door's page, the day-use overview.
    page.goto(f"{live.url}/staff/banks/main-lobby/{loaded.compartment}")
    page.get_by_role("button", name="Send a new code").wait_for()
    audit_page(page, live, "staff-compartment-reissue")
    page.get_by_role("link", name="Day use").click()
    page.get_by_role("heading", name="Day-use lockers").wait_for()
    audit_page(page, live, "staff-dayuse")
    page.get_by_role("link", name="Status").click()
    page.get_by_role("link", name="Kiosk of Main Library lobby").click()
    page.get_by_role("heading", name="Kiosk of Main Library lobby").wait_for()
    audit_page(page, live, "staff-kiosk-enrol")
    page.get_by_label("Name of the kiosk").fill("Lobby screen")
    page.get_by_role("button", name="Make this browser the kiosk of Main Library lobby").click()
    page.wait_for_url(re.compile(r".*/kiosk/main-lobby$"))

    # The start screen shows the bank's presence number, large, with a spoken label.
    page.get_by_role("heading", name="Open with your phone").wait_for()
    code, _ = kiosk_code(rt, "main-lobby")
    assert _shown(page) == code
    assert page.locator("#presence-label").inner_text() == f"Number for your phone: {' '.join(code)}"
    box = page.locator("#presence-digits").bounding_box()
    assert box is not None and box["height"] >= 60  # readable from a step away
    assert page.get_by_role("img", name="QR code that opens your pickup page on your phone").is_visible()
    audit_page(page, live, "kiosk-start-presence")

    # A card at the bank's reader: the screen turns to the PIN prompt by itself.
    doors["main-lobby"].present_card("21000001", reader="front-rfid")
    page.wait_for_url(re.compile(r".*/kiosk/main-lobby/reader.*"), timeout=5000)
    page.get_by_role("heading", name="Card read").wait_for()
    audit_page(page, live, "kiosk-reader-pin")
    page.keyboard.type("4321")  # the PIN field has focus on arrival
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"Door {loaded.compartment} is open").wait_for()
    audit_page(page, live, "kiosk-reader-opened")
    assert doors["main-lobby"].is_open(loaded.compartment)

    # The demo bank: the patron takes the book and closes the door from the screen.
    page.get_by_role("button", name=f"Close door {loaded.compartment}").click()
    page.wait_for_url(re.compile(r".*/kiosk/main-lobby(\?lang=en)?$"))
    assert not doors["main-lobby"].is_open(loaded.compartment)
    assert page.url.endswith("/kiosk/main-lobby?lang=en")  # and stays on the start screen
    page.wait_for_timeout(1500)
    assert "/reader" not in page.url
    # Only the staff page was seen signed in: the kiosk browser has no staff session.
    page.goto(f"{live.url}/staff/")
    page.wait_for_url(re.compile(r".*/staff/login.*"))
    assert csp_errors == []


def test_a_wrong_pin_after_a_card_read_is_explained_in_spanish(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, csp_errors: list[str],
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31002002")
    page.goto(f"{live.url}/kiosk/main-lobby?lang=es")
    page.get_by_role("heading", name="Abrir con su móvil").wait_for()
    audit_page(page, live, "kiosk-start-presence-es")
    # Cancel on the PIN prompt: back to the start, which does not turn back to the prompt.
    doors["main-lobby"].present_card("21000001")
    page.get_by_role("heading", name="Carné leído").wait_for(timeout=5000)
    page.get_by_role("button", name="Cancelar").click()
    page.get_by_role("heading", name="Abrir con su móvil").wait_for()
    page.wait_for_timeout(2500)
    assert "/reader" not in page.url
    doors["main-lobby"].present_card("21000001")
    page.get_by_role("heading", name="Carné leído").wait_for(timeout=5000)
    page.get_by_label("PIN").fill("0000")
    page.get_by_role("button", name="Abrir mi casillero").click()
    page.get_by_role("heading", name=re.compile("No se aceptó el PIN")).wait_for()
    page.get_by_text("acerque otra vez su carné al lector").wait_for()
    audit_page(page, live, "kiosk-reader-denied-es")
    assert not doors["main-lobby"].is_open(loaded.compartment)
    assert csp_errors == []


def test_a_day_use_locker_reserved_at_the_kiosk_and_a_blocked_card_refused(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, csp_errors: list[str],
) -> None:
    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_role("link", name=re.compile("Day-use locker")).click()
    page.get_by_role("heading", name="Day-use locker").wait_for()
    audit_page(page, live, "kiosk-dayuse")
    page.get_by_label("Library card number").fill("21000001")
    page.get_by_label("PIN").fill("4321")
    page.get_by_label("2 hours").check()
    page.get_by_role("button", name="Reserve or open my locker").click()
    heading = page.get_by_role("heading", name=re.compile(r"Door 1[12] is yours until \d\d:\d\d"))
    heading.wait_for()
    audit_page(page, live, "kiosk-dayuse-reserved")
    door = int(re.search(r"Door (\d+)", heading.inner_text()).group(1))  # type: ignore[union-attr]
    assert doors["main-lobby"].is_open(door)
    page.get_by_role("button", name=f"Close door {door}").click()
    page.wait_for_url(re.compile(r".*/kiosk/main-lobby(\?lang=en)?$"))
    assert not doors["main-lobby"].is_open(door)

    ils.add_patron("21000009", "9090", block_reasons=("card expired",))
    page.goto(f"{live.url}/kiosk/main-lobby/dayuse")
    page.get_by_label("Library card number").fill("21000009")
    page.get_by_label("PIN").fill("9090")
    page.get_by_role("button", name="Reserve or open my locker").click()
    page.get_by_role("heading", name=re.compile(r"cannot reserve a locker right now. To sort it out")).wait_for()
    audit_page(page, live, "kiosk-dayuse-blocked")
    assert not doors["main-lobby"].is_open(12 if door == 11 else 11)
    assert csp_errors == []


def test_a_new_pickup_code_at_the_kiosk(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, csp_errors: list[str],
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31002003")
    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_role("link", name=re.compile("Lost your code?")).click()
    page.get_by_role("heading", name="Lost your code?").wait_for()
    audit_page(page, live, "kiosk-newcode")
    page.locator("#card").fill("21000001")
    page.get_by_label("PIN", exact=True).fill("4321")
    page.get_by_role("button", name="Show a new code").click()
    page.get_by_role("heading", name="Your new pickup code", exact=True).wait_for()
    audit_page(page, live, "kiosk-newcode-issued")
    new = page.locator("#new-code").inner_text()
    assert new != loaded.code and re.fullmatch(r"\d{6,}", new)
    # The new code opens the door at the kiosk; the old one no longer would.
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    page.get_by_label("Pickup code").fill(new)
    page.get_by_role("button", name="Open my locker").click()
    page.get_by_role("heading", name=f"Door {loaded.compartment} is open").wait_for()
    assert csp_errors == []


@pytest.mark.parametrize("presence_window", [15])
def test_the_presence_number_changes_on_screen_without_taking_the_focus(
    page: Any, live: LiveServer, rt: Any, csp_errors: list[str],
) -> None:
    page.goto(f"{live.url}/kiosk/main-lobby")
    before = _shown(page)
    page.get_by_role("link", name=re.compile("Return an item")).focus()
    page.wait_for_function(
        "(before) => document.getElementById('presence-digits').innerText.replace(' ', '') !== before",
        arg=before,
        timeout=20000,
    )
    after = _shown(page)
    assert after == kiosk_code(rt, "main-lobby")[0]
    assert page.evaluate("document.activeElement.innerText").startswith("Return an item")
    assert after in page.locator("#presence-label").inner_text().replace(" ", "")
    assert csp_errors == []


@pytest.mark.parametrize("kiosk_timeout", [8])
def test_a_pin_prompt_left_alone_times_out_and_lets_the_card_go(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, csp_errors: list[str],
) -> None:
    page.goto(f"{live.url}/kiosk/main-lobby")
    doors["main-lobby"].present_card("21000001")
    page.get_by_role("heading", name="Card read").wait_for(timeout=5000)
    page.get_by_label("PIN").fill("12")
    page.get_by_role("button", name="I need more time").wait_for(timeout=8000)
    page.get_by_role("heading", name="Open with your phone").wait_for(timeout=11000)
    page.wait_for_timeout(2500)  # the start screen does not turn back to the prompt
    assert "/reader" not in page.url
    assert page.request.get(f"{live.url}/kiosk/main-lobby/reader.json").json() == {"state": "idle"}
    assert csp_errors == []
