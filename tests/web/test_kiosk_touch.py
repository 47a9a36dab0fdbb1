"""The kiosk as it stands beside a locker: a 1080x1920 portrait touch screen, no keyboard.

Real chromium through Playwright with touch emulation, the same live server, CSP watch and
axe-core audit as ``test_browser.py``. Every way to pick up (a card at the reader too, its
PIN on the keypad), a return, day use and an equipment loan are completed by tapping the
on-screen keypads only; on every screen each control must lie in the lower two thirds of the
screen (in reach from a wheelchair) and be at least 48 px each way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Settings, load_settings
from tests.support.acs import use_acs
from tests.web import test_browser as shared
from tests.web.conftest import load_for_pickup, stock, web_config
from tests.web.test_browser import LiveServer, audit_page

browser_type_launch_args = shared.browser_type_launch_args
live = shared.live
csp_errors = shared.csp_errors
kiosk_cookie = shared.kiosk_cookie

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1080, 1920
MIN_TARGET = 48


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": {"width": WIDTH, "height": HEIGHT},
        "has_touch": True,
        "is_mobile": False,
    }


@pytest.fixture
def web_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    cfg = web_config(tmp_path, kiosk_timeout_seconds=120)
    cfg["dayuse"] = {"compartments": {"main-lobby": [11, 12]}, "max_hours": 4, "per_patron": 1}
    cfg["branding"] = {"library_name": "Riverside Public Library", "help_phone": "555-0100"}
    # Messages can go (nothing listens: the receipt stays queued), so receipts are offered.
    cfg["notifications"] = {"email": {"enabled": True, "host": "127.0.0.1", "port": 1}}
    if "acs" in request.fixturenames:
        use_acs(cfg, request.getfixturevalue("acs"))
    return load_settings(None, **cfg)


_OUT_OF_REACH = """
([minTop, maxBottom, minSize]) => {
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
    + '[tabindex]:not([tabindex="-1"])';
  const bad = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.classList.contains('skip')) continue;  // off screen until a keyboard focuses it
    if (el.closest('[hidden]') || !el.getClientRects().length) continue;
    const r = el.getBoundingClientRect();
    const y = r.top + window.scrollY;
    if (y < minTop || y + r.height > maxBottom || r.width < minSize || r.height < minSize) {
      bad.push(`${el.tagName} "${(el.innerText || el.value || el.name || '').trim().slice(0, 30)}"`
        + ` at y=${Math.round(y)}, ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return bad;
}
"""


def check_screen(page: Any, live: LiveServer, name: str) -> None:
    """Every control in reach and big enough, nothing scrolled off the screen; axe clean."""
    bad = page.evaluate(_OUT_OF_REACH, [HEIGHT / 3, HEIGHT, MIN_TARGET])
    assert not bad, f"{name}: controls out of reach or too small: {bad}"
    audit_page(page, live, f"touch-{name}")


def tap_keys(page: Any, field: str, keys: str) -> None:
    """Tap the field, then each key of the on-screen keypad."""
    page.locator(f"#{field}").tap()
    for key in keys:
        page.locator(f'.keypad button[data-key="{key}"]').tap()
    assert page.locator(f"#{field}").input_value() == keys


def test_every_pickup_way_a_return_and_day_use_by_touch_only(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, csp_errors: list[str]
) -> None:
    by_card = load_for_pickup(rt, ils, doors, "31000901", title="Kindred")
    by_code = load_for_pickup(rt, ils, doors, "31000902", patron="21000002", title="Beloved")
    ils.add_patron("21000002", "1111")
    by_qr = load_for_pickup(rt, ils, doors, "31000903", patron="21000003")
    ils.add_patron("21000003", "2222")
    ils.add_item("39000904", home="CENTRAL")
    ils.lend("21000001", "39000904")

    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_text("Riverside Public Library").wait_for()
    page.get_by_text("Need help? Call 555-0100.").first.wait_for()
    check_screen(page, live, "start")
    assert page.get_by_role("link", name=re.compile("Borrow equipment")).count() == 0  # none here

    # Card and PIN: an alphanumeric keypad for the card, a numeric one for the PIN.
    page.get_by_role("link", name=re.compile("Pick up my items")).tap()
    page.get_by_role("heading", name="How do you want to open your locker?").wait_for()
    check_screen(page, live, "pickup-choice")
    page.get_by_role("link", name="Library card and PIN").tap()
    page.locator(".keypad.alnum").wait_for()
    check_screen(page, live, "card-form")
    tap_keys(page, "card", "21000001")
    tap_keys(page, "pin", "4321")
    assert page.locator(".keypad.numeric").is_visible()
    page.get_by_role("button", name="Open my locker").tap()
    headline = page.get_by_role("heading", name=f"Door {by_card.compartment} is open", exact=False)
    headline.wait_for()
    # Focus is on the result, so a screen reader says it first.
    assert page.evaluate("document.activeElement.id") == "headline"
    page.get_by_role("cell", name="Kindred").wait_for()  # the receipt
    check_screen(page, live, "card-opened")
    assert doors["main-lobby"].is_open(by_card.compartment)

    # A card at the bank's reader: the PIN on the numeric keypad of the prompt that follows.
    by_reader = load_for_pickup(rt, ils, doors, "31000905", title="Fledgling")
    page.goto(f"{live.url}/kiosk/main-lobby")
    doors["main-lobby"].present_card("21000001", reader="front-rfid")
    page.get_by_role("heading", name="Card read").wait_for(timeout=5000)
    check_screen(page, live, "reader-pin")
    tap_keys(page, "pin", "4321")
    page.get_by_role("button", name="Open my locker").tap()
    page.get_by_role("heading", name=re.compile(f"Door {by_reader.compartment} is open")).wait_for()
    assert doors["main-lobby"].is_open(by_reader.compartment)

    # The code from the message, on the numeric keypad; a wrong digit deleted on the way.
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    page.locator("#code").tap()
    page.locator('.keypad button[data-key="9"]').tap()
    page.locator('.keypad button[data-key="delete"]').tap()
    tap_keys(page, "code", by_code.code)
    check_screen(page, live, "code-form")
    page.get_by_role("button", name="Open my locker").tap()
    page.get_by_role("heading", name=re.compile(f"Door {by_code.compartment} is open")).wait_for()

    # QR: the scanner types the token (a QR cannot be tapped in).
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/qr")
    check_screen(page, live, "qr-form")
    page.keyboard.type(by_qr.qr_token)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile(f"Door {by_qr.compartment} is open")).wait_for()

    # A wrong code: what happened and what to do, "Try again" first and focused on arrival.
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    tap_keys(page, "code", "000000")
    page.get_by_role("button", name="Open my locker").tap()
    page.get_by_role("heading", name=re.compile("This code did not open a locker")).wait_for()
    buttons = page.locator("main .buttons a").all_inner_texts()
    assert buttons[0] == "Try again"
    check_screen(page, live, "code-denied")
    page.get_by_role("link", name="Try again").tap()
    page.locator("#code").wait_for()

    # A return: the item barcode on the alphanumeric keypad.
    page.goto(f"{live.url}/kiosk/main-lobby/return")
    check_screen(page, live, "return-form")
    tap_keys(page, "item", "39000904")
    page.get_by_role("button", name="Open a return door").tap()
    page.get_by_role("heading", name=re.compile(r"Door \d+ is open")).wait_for()
    check_screen(page, live, "return-opened")

    # Day use: card, PIN and the hours, all by touch.
    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_role("link", name=re.compile("Day-use locker")).tap()
    page.get_by_role("heading", name="Day-use locker").wait_for()
    check_screen(page, live, "dayuse-form")
    tap_keys(page, "card", "21000001")
    tap_keys(page, "pin", "4321")
    page.get_by_label("2 hours").tap()
    page.get_by_role("button", name="Reserve or open my locker").tap()
    heading = page.get_by_role("heading", name=re.compile(r"Door 1[12] is yours until"))
    heading.wait_for()
    check_screen(page, live, "dayuse-reserved")
    door = int(re.search(r"Door (\d+)", heading.inner_text()).group(1))  # type: ignore[union-attr]
    assert doors["main-lobby"].is_open(door)
    assert csp_errors == []


def test_an_equipment_loan_by_touch_with_the_fee_question_and_the_acs_due_date(
    page: Any, live: LiveServer, rt: Any, acs: Any, doors: Any, csp_errors: list[str]
) -> None:
    stock(rt, doors, 16, "39000000000020", "hotspot")  # Hotspot 01: 2.00 rental fee
    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_role("link", name=re.compile("Borrow equipment")).tap()
    page.get_by_role("heading", name="Borrow equipment").wait_for()
    check_screen(page, live, "equipment-form")
    page.get_by_label("Wi-Fi hotspot").tap()
    tap_keys(page, "card", "23000000000001")
    tap_keys(page, "pin", "1234")
    page.get_by_role("button", name="Borrow").tap()
    # The fee is a question with the amount and the currency, "I agree" first.
    page.get_by_role(
        "heading", name="Borrowing this costs 2.00 USD. Do you agree to pay it?"
    ).wait_for()
    assert page.locator("main .buttons a").all_inner_texts() == ["I agree", "Cancel"]
    check_screen(page, live, "equipment-fee")
    assert not doors["main-lobby"].is_open(16)
    page.get_by_role("link", name="I agree", exact=True).tap()
    page.get_by_text("You accept the charge").wait_for()
    tap_keys(page, "card", "23000000000001")
    tap_keys(page, "pin", "1234")
    page.get_by_role("button", name="Borrow").tap()
    page.get_by_role(
        "heading", name="Door 16 is open. Take the equipment and close the door."
    ).wait_for()
    assert page.evaluate("document.activeElement.id") == "headline"
    check_screen(page, live, "equipment-opened")
    # The receipt's due date is the one the reference ACS put in its checkout reply.
    due = acs.catalogue.item("39000000000020").due
    assert due is not None
    shown = page.locator(".receipt td").nth(1).inner_text()
    assert shown == f"{due:%A} {due.day} {due:%B} {due.year}", shown
    page.get_by_role("button", name="Send me a receipt").tap()
    page.get_by_role("heading", name=re.compile("A receipt is on its way")).wait_for()
    check_screen(page, live, "receipt-queued")
    assert csp_errors == []


def test_every_kiosk_screen_in_spanish_is_in_reach_and_passes_axe(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any
) -> None:
    stock(rt, doors, 16, "39000000000020", "hotspot")
    base = f"{live.url}/kiosk/main-lobby"
    for path, name in [
        ("?lang=es", "start"),
        ("/pickup?lang=es", "pickup"),
        ("/pickup/card?lang=es", "card"),
        ("/pickup/code?lang=es", "code"),
        ("/pickup/qr?lang=es", "qr"),
        ("/return?lang=es", "return"),
        ("/equipment?lang=es", "equipment"),
        ("/dayuse?lang=es", "dayuse"),
        ("/newcode?resend=1&lang=es", "resend"),
        ("/newcode?lang=es", "newcode"),
    ]:
        page.goto(f"{base}{path}")
        assert page.locator("html").get_attribute("lang") == "es"
        check_screen(page, live, f"es-{name}")
    tap_keys(page, "card", "21000001")
    tap_keys(page, "pin", "0000")
    page.get_by_role("button", name="Mostrar un código nuevo").tap()
    page.locator("#headline").wait_for()
    check_screen(page, live, "es-newcode-denied")
    assert page.locator("main .buttons a").first.inner_text() == "Intentar de nuevo"

    # Results in Spanish: a pickup with its receipt and the offer to send it, then a return.
    loaded = load_for_pickup(rt, ils, doors, "31000911", title="Rayuela")
    ils.add_item("39000912", home="CENTRAL")
    page.goto(f"{base}/pickup/card?lang=es")
    tap_keys(page, "card", "21000001")
    tap_keys(page, "pin", "4321")
    page.get_by_role("button", name="Abrir mi casillero").tap()
    page.get_by_role("heading", name=re.compile(f"puerta {loaded.compartment}", re.I)).wait_for()
    page.get_by_role("cell", name="Rayuela").wait_for()
    check_screen(page, live, "es-card-opened-receipt")
    page.get_by_role("button", name="Enviarme un recibo").tap()
    page.get_by_role("heading", name=re.compile("Le enviamos un recibo")).wait_for()
    check_screen(page, live, "es-receipt-queued")
    page.goto(f"{base}/return?lang=es")
    tap_keys(page, "item", "39000912")
    page.get_by_role("button", name="Abrir una puerta de devolución").tap()
    page.locator("#headline").wait_for()
    check_screen(page, live, "es-return-opened")


def test_landscape_and_small_screens_still_work(page: Any, live: LiveServer) -> None:
    for width, height in ((1920, 1080), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live.url}/kiosk/main-lobby/pickup/card")
        page.locator(".keypad.alnum").wait_for()
        scroll = page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll <= width, f"{width}x{height}: the page scrolls sideways ({scroll}px)"
        tap_keys(page, "card", "21000001")
        tap_keys(page, "pin", "4321")
        page.get_by_role("button", name="Open my locker").scroll_into_view_if_needed()
        assert page.get_by_role("button", name="Open my locker").is_visible()


@pytest.mark.parametrize("kiosk_cookie", [False])
def test_a_browser_that_is_no_kiosk_gets_the_touch_layout_and_branding_in_both_languages(
    page: Any, live: LiveServer
) -> None:
    for lang, heading in (("en", "This kiosk is not enrolled"), ("es", "Este quiosco no está registrado")):
        response = page.goto(f"{live.url}/kiosk/main-lobby?lang={lang}")
        assert response is not None and response.status == 403
        page.get_by_role("heading", name=heading).wait_for()
        assert page.locator("html").get_attribute("lang") == lang
        page.get_by_text("Riverside Public Library").wait_for()
        assert "555-0100" in page.locator("footer").inner_text()
        check_screen(page, live, f"not-enrolled-{lang}")
