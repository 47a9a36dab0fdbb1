"""The staff and kiosk pages in a real browser (Debian's chromium through Playwright).

The app runs in a real werkzeug server on a free port, with the CSP enforced (axe-core is
served from the same origin by a test-only route instead of bypassing the CSP). Every page is
checked with axe-core for serious or critical WCAG violations and photographed into
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, send_file
from sqlalchemy import select
from werkzeug.serving import make_server

from bridge.config import Settings, load_settings
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from tests.support.acs import use_acs
from tests.web.conftest import Account, enrol_kiosk, load_for_pickup, stock, web_config

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
KIOSK_TIMEOUT = 8

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def kiosk_timeout() -> int:
    return 120  # long enough never to interfere; the time-out test sets its own


@pytest.fixture
def web_settings(tmp_path: Path, kiosk_timeout: int, request: pytest.FixtureRequest) -> Settings:
    cfg = web_config(tmp_path, kiosk_timeout_seconds=kiosk_timeout)
    if "acs" in request.fixturenames:  # the test talks SIP2 to the reference ACS
        use_acs(cfg, request.getfixturevalue("acs"))
    return load_settings(None, **cfg)


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def kiosk_cookie() -> bool:
    """Whether the test's browser starts as the enrolled kiosk of main-lobby."""
    return True


@pytest.fixture
def live(
    app: Flask, doors: Any, kiosk_cookie: bool, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    if "acs" not in request.fixturenames:
        request.getfixturevalue("ils")  # the in-memory ILS, unless the test brought the ACS
    app.config["LOCKERBRIDGE_POLL_SECONDS"] = 1
    app.add_url_rule("/__test__/axe.min.js", "test_axe", lambda: send_file(AXE))
    server = LiveServer(app)
    if kiosk_cookie and "page" in request.fixturenames:
        token = enrol_kiosk(request.getfixturevalue("rt"))
        page = request.getfixturevalue("page")
        page.context.add_cookies([{"name": "lb_kiosk", "value": token, "url": server.url}])
    yield server
    server.stop()


@pytest.fixture
def csp_errors(page: Any) -> list[str]:
    """Console messages about the CSP: a page needing inline script or style would log them."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text)
        if "Content Security Policy" in msg.text or "Refused to" in msg.text
        else None,
    )
    return found


def audit_page(page: Any, live: LiveServer, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical violations; plus a screenshot."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=f"{live.url}/__test__/axe.min.js")
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


def sign_in(page: Any, live: LiveServer, account: Account, code_offset: int = 0) -> None:
    page.goto(f"{live.url}/staff/login")
    page.get_by_label("User name").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    if account.role is Role.ADMIN:
        assert account.totp is not None
        page.get_by_label("Code").fill(account.totp.at(time.time() + code_offset))
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/staff/$"))


def return_at_kiosk(page: Any, live: LiveServer, doors: Any, item: str) -> int:
    """A patron returns ``item`` at the main lobby's kiosk: a door opens, the item goes in and
    the door shuts. Returns the door's number."""
    page.goto(f"{live.url}/kiosk/main-lobby/return")
    page.get_by_label("Item barcode").fill(item)
    page.get_by_role("button", name="Open a return door").click()
    heading = page.get_by_role("heading", name=re.compile(r"Door \d+ is open"))
    heading.wait_for()
    door = int(re.search(r"Door (\d+)", heading.inner_text()).group(1))  # type: ignore[union-attr]
    doors["main-lobby"].put_item(door)
    assert doors["main-lobby"].close_door(door)
    return door


def test_sign_in_then_the_grid_follows_door_events_without_a_reload(
    page: Any, live: LiveServer, accounts: Any, doors: Any, csp_errors: list[str]
) -> None:
    page.goto(f"{live.url}/staff/login")
    audit_page(page, live, "staff-login")
    sign_in(page, live, accounts[Role.ADMIN])
    cell = page.locator('#grid-main-lobby li[data-number="7"]')
    assert "Door open" not in cell.inner_text()
    audit_page(page, live, "staff-status")
    # A door opens at the bank: the driver reports it, the service layer records it.
    doors["main-lobby"].open_door(7)
    page.wait_for_function(
        "() => document.querySelector('#grid-main-lobby li[data-number=\"7\"]')"
        ".innerText.includes('Door open')",
        timeout=5000,
    )
    doors["main-lobby"].close_door(7)
    page.wait_for_function(
        "() => !document.querySelector('#grid-main-lobby li[data-number=\"7\"]')"
        ".innerText.includes('Door open')",
        timeout=5000,
    )
    assert csp_errors == []


def test_remote_unlock_needs_a_reason_and_a_fresh_code(
    page: Any, live: LiveServer, accounts: Any, doors: Any, rt: Any, csp_errors: list[str]
) -> None:
    admin = accounts[Role.ADMIN]
    sign_in(page, live, admin)
    page.goto(f"{live.url}/staff/banks/main-lobby/4")
    audit_page(page, live, "staff-compartment")
    page.get_by_label("Reason").fill("patron's bag stuck in door 4")
    code = admin.totp.at(time.time() + 30)  # one code for both tries, whatever the clock does
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Open door 4").click()
    page.get_by_text("Door 4 is open. The unlock was logged.").wait_for()
    assert doors["main-lobby"].is_open(4)
    # The same code again is refused: a second factor is good for one use only.
    page.get_by_label("Reason").fill("trying again with the same code")
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Open door 4").click()
    page.get_by_text("wrong or was already used").wait_for()
    assert csp_errors == []


def test_a_forged_form_from_another_site_is_refused(
    page: Any, live: LiveServer, accounts: Any, rt: Any
) -> None:
    sign_in(page, live, accounts[Role.STAFF])
    # The attacker's page lives on another origin (another port) and posts to ours.
    attacker = Flask("attacker")
    target = f"{live.url}/staff/banks/main-lobby/2/service"
    attacker.add_url_rule(
        "/",
        "evil",
        lambda: (
            '<!doctype html><title>win a prize</title><form method="post" '
            f'action="{target}"><input type="hidden" name="out" value="1">'
            '<button type="submit">Claim</button></form>'
        ),
    )
    evil = LiveServer(attacker)
    try:
        page.goto(evil.url)
        page.get_by_role("button", name="Claim").click()
        page.get_by_text("Nothing was changed").wait_for()
    finally:
        evil.stop()
    with unit_of_work(rt.sessions) as s:
        state = s.scalar(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 2
            )
        )
    assert state == "free"


def test_every_staff_page_passes_axe(
    page: Any, live: LiveServer, accounts: Any, rt: Any, ils: Any, doors: Any,
    csp_errors: list[str],
) -> None:
    load_for_pickup(rt, ils, doors, "31000500", title="The Left Hand of Darkness")
    from datetime import UTC, datetime, timedelta

    from bridge.storage.tables.core import AuditEventRow

    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as s:  # a fortnight of pickups for the charts
        for day in range(14):
            for n in range(day % 5 + 1):
                at = now - timedelta(days=day, hours=n)
                for to, back in (("loaded", timedelta(hours=6 + day)), ("picked_up", timedelta())):
                    s.add(AuditEventRow(at=at - back, kind="compartment_state", bank_id="main-lobby",
                                        compartment=n + 1, detail={"to": to}))
    sign_in(page, live, accounts[Role.STAFF])
    for name, path in [
        ("staff-work", "/staff/work"),
        ("staff-audit", "/staff/audit"),
        ("staff-charts", "/staff/charts"),
    ]:
        page.goto(live.url + path)
        audit_page(page, live, name)
    assert csp_errors == []


def test_kiosk_pickup_with_card_and_pin_by_keyboard_only(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any, csp_errors: list[str]
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000101", title="Kindred")
    page.goto(f"{live.url}/kiosk/main-lobby")
    audit_page(page, live, "kiosk-start")
    # Tab through: skip link, language links, then the first big choice.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.innerText").startswith("Pick up my items"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/pickup(\?.*)?$"))
    audit_page(page, live, "kiosk-pickup-choice")
    page.get_by_role("link", name="Library card and PIN").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/pickup/card.*"))
    audit_page(page, live, "kiosk-card-form")
    page.keyboard.type("21000001")  # the card field has focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type("4321")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"Door {loaded.compartment} is open").wait_for()
    audit_page(page, live, "kiosk-result-opened")
    assert doors["main-lobby"].is_open(loaded.compartment)
    assert csp_errors == []


def test_kiosk_pickup_with_typed_code_and_with_qr(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any
) -> None:
    first = load_for_pickup(rt, ils, doors, "31000201")
    second = load_for_pickup(rt, ils, doors, "31000202", patron="21000002")
    ils.add_patron("21000002", "1111")
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    audit_page(page, live, "kiosk-code-form")
    page.get_by_label("Pickup code").fill(first.code)
    page.get_by_role("button", name="Open my locker").click()
    page.get_by_role("heading", name=f"Door {first.compartment} is open").wait_for()
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/qr")
    audit_page(page, live, "kiosk-qr-form")
    # A scanner types the token and presses Enter.
    page.keyboard.type(second.qr_token)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"Door {second.compartment} is open").wait_for()


def test_kiosk_explains_a_wrong_code_in_spanish(page: Any, live: LiveServer) -> None:
    page.goto(f"{live.url}/kiosk/main-lobby")
    page.get_by_role("link", name="Español").click()
    page.get_by_role("heading", name="Bienvenido. ¿Qué desea hacer?").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    audit_page(page, live, "kiosk-start-es")
    page.get_by_role("link", name="Recoger mis documentos").click()
    page.get_by_role("link", name="Escribir el código de mi mensaje").click()
    page.get_by_label("Código de recogida").fill("000000")
    page.get_by_role("button", name="Abrir mi casillero").click()
    page.get_by_text("no abrió ningún casillero").wait_for()
    audit_page(page, live, "kiosk-result-denied-es")


def test_kiosk_return_opens_a_door_and_the_deposit_is_recorded_on_closing(
    page: Any, live: LiveServer, rt: Any, ils: Any, doors: Any
) -> None:
    ils.add_item("39000300", home="CENTRAL")
    ils.lend("21000001", "39000300")
    page.goto(f"{live.url}/kiosk/main-lobby/return")
    audit_page(page, live, "kiosk-return-form")
    page.get_by_label("Item barcode").fill("39000300")
    page.get_by_role("button", name="Open a return door").click()
    heading = page.get_by_role("heading", name=re.compile(r"Door \d+ is open"))
    heading.wait_for()
    audit_page(page, live, "kiosk-return-opened")
    number = int(re.search(r"Door (\d+)", heading.inner_text()).group(1))
    doors["main-lobby"].put_item(number)
    doors["main-lobby"].close_door(number)
    from bridge.storage.tables.returns import DepositRow

    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(DepositRow.item_barcode)).all() == ["39000300"]


def test_kiosk_equipment_borrowing_with_a_fee_over_sip2(
    page: Any, live: LiveServer, rt: Any, acs: Any, doors: Any, csp_errors: list[str]
) -> None:
    stock(rt, doors, 16, "39000000000020", "hotspot")  # Hotspot 01: 2.00 rental fee
    page.goto(f"{live.url}/kiosk/main-lobby/equipment")
    page.get_by_role("heading", name="Borrow equipment").wait_for()
    audit_page(page, live, "kiosk-equipment")
    page.get_by_label("Wi-Fi hotspot").check()
    page.get_by_label("Library card number").fill("23000000000001")
    page.get_by_label("PIN").fill("1234")
    page.get_by_role("button", name="Borrow").click()
    page.get_by_role("heading", name="Borrowing this costs 2.00 USD. Do you agree to pay it?").wait_for()
    audit_page(page, live, "kiosk-equipment-fee")
    assert not doors["main-lobby"].is_open(16)
    page.get_by_role("link", name="I agree", exact=True).click()
    page.get_by_text("You accept the charge").wait_for()
    page.get_by_label("Library card number").fill("23000000000001")
    page.get_by_label("PIN").fill("1234")
    page.get_by_role("button", name="Borrow").click()
    page.get_by_role("heading", name="Door 16 is open").wait_for()
    assert doors["main-lobby"].is_open(16)
    assert [e.patron for e in acs.ledger.checkouts("39000000000020") if e.ok] == [
        "23000000000001"
    ]
    assert csp_errors == []


@pytest.mark.parametrize("kiosk_timeout", [KIOSK_TIMEOUT])
def test_kiosk_times_out_to_the_start_screen_and_forgets_what_was_typed(
    page: Any, live: LiveServer
) -> None:
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/card")
    page.get_by_label("Library card number").fill("21000001")
    # The warning comes first, with a way to ask for more time (WCAG 2.2.1).
    page.get_by_role("button", name="I need more time").wait_for(timeout=KIOSK_TIMEOUT * 1000)
    audit_page(page, live, "kiosk-timeout-warning")
    page.wait_for_url(re.compile(r".*/kiosk/main-lobby(\?lang=en)?$"), timeout=(KIOSK_TIMEOUT + 3) * 1000)
    page.get_by_role("heading", name="Welcome. What would you like to do?").wait_for()
    page.go_back()
    # location.replace dropped the form from the history, and the card number is gone.
    assert "21000001" not in page.content()


def test_staff_load_a_hold_then_the_patron_collects_it_the_demo_story(
    page: Any, live: LiveServer, accounts: Any, rt: Any, ils: Any, doors: Any,
    csp_errors: list[str],
) -> None:
    from bridge.storage.tables.notifications import NotificationRow

    ils.add_item("31000901", home="CENTRAL", title="Parable of the Sower")
    ils.place_hold("21000001", "31000901", pickup_location="MAIN-LOCKER")
    sign_in(page, live, accounts[Role.STAFF])
    page.get_by_role("link", name="Load items into Main Library lobby").click()
    page.get_by_role("heading", name="Load items: Main Library lobby").wait_for()
    audit_page(page, live, "staff-load")
    page.get_by_label("Item barcode").fill("31000901")
    page.keyboard.press("Enter")  # the scanner's Enter
    headline = page.get_by_role("heading", name=re.compile(r"Door \d+ is open"))
    headline.wait_for()
    audit_page(page, live, "staff-load-door-open")
    door = int(re.search(r"Door (\d+)", headline.inner_text()).group(1))
    assert doors["main-lobby"].is_open(door)
    with unit_of_work(rt.sessions) as s:  # nobody is told before the door is closed on it
        assert s.scalars(select(NotificationRow)).all() == []

    page.get_by_role("button", name=f"Close door {door} (simulation)").click()
    page.get_by_text(f"Door {door} is closed (simulation).").wait_for()
    with unit_of_work(rt.sessions) as s:
        [note] = s.scalars(select(NotificationRow)).all()
        code = note.secrets["code"]

    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    page.get_by_label("Pickup code").fill(code)
    page.get_by_role("button", name="Open my locker").click()
    page.get_by_role("heading", name=f"Door {door} is open").wait_for()
    audit_page(page, live, "kiosk-result-simulated")
    page.get_by_role("button", name=f"Close door {door}").click()
    page.get_by_role("heading", name="Welcome. What would you like to do?").wait_for()
    with unit_of_work(rt.sessions) as s:
        state = s.scalars(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == door
            )
        ).one()
    assert state == "free" and not doors["main-lobby"].is_open(door)
    assert csp_errors == []


def test_staff_equipment_page_in_the_browser(
    page: Any, live: LiveServer, accounts: Any, rt: Any, doors: Any, csp_errors: list[str]
) -> None:
    sign_in(page, live, accounts[Role.STAFF])
    page.get_by_role("link", name="Equipment of Main Library lobby").click()
    page.get_by_role("heading", name="Equipment: Main Library lobby").wait_for()
    page.get_by_label("Item barcode").fill("39000000000017")
    page.get_by_label("Kind of equipment").select_option("laptop")
    page.get_by_label("Door", exact=True).select_option("15")
    page.get_by_role("button", name="Open the door").click()
    page.get_by_text("Door 15 is open").wait_for()
    audit_page(page, live, "staff-equipment")
    page.get_by_role("button", name="Close door 15 (simulation)").click()
    page.locator("#door-15").get_by_text("available").wait_for()
    assert csp_errors == []


def test_overview_drills_down_to_one_bank_and_finds_a_bank_by_search(
    page: Any, live: LiveServer, accounts: Any, doors: Any, csp_errors: list[str]
) -> None:
    sign_in(page, live, accounts[Role.VIEWER])
    row = page.locator("#bank-row-east-station")
    assert row.locator("td").first.inner_text() == "online"
    page.get_by_label("Find a bank (name, id or branch)").fill("EAST-LOCKER")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r".*/staff/\?q=EAST-LOCKER$"))
    assert page.locator("#bank-overview tbody tr").count() == 1
    audit_page(page, live, "staff-overview-search")
    page.get_by_role("link", name="East station").click()
    page.wait_for_url(re.compile(r".*/staff/banks/east-station$"))
    assert page.get_by_role("heading", name="East station").is_visible()
    assert page.locator("#grid-east-station li").count() == 6
    audit_page(page, live, "staff-bank")
    # The bank page follows the doors like the status page does.
    doors["east-station"].open_door(2)
    page.wait_for_function(
        "() => document.querySelector('#grid-east-station li[data-number=\"2\"]')"
        ".innerText.includes('Door open')",
        timeout=5000,
    )
    page.get_by_role("link", name="All banks").click()
    page.wait_for_url(re.compile(r".*/staff/$"))
    assert csp_errors == []
