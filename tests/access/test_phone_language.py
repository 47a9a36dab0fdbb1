"""The phone page in the patron's language: a Spanish message's link opens it in Spanish, the
patron can switch, the library's name is on it, and axe-core finds nothing serious in either
language (real chromium at a phone's size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.access.kiosks import enrol
from bridge.services.access.phone import kiosk_code
from sip2.acs.server import ReferenceACS
from tests.access.conftest import ANA, ANA_ITEM, ANA_PIN, access_config, load_hold, phone_link, sim

pytestmark = pytest.mark.browser

LIBRARY, HELP = "Riverside Public Library", "555-0100"


@pytest.fixture
def access_settings(tmp_path: Path, acs: ReferenceACS) -> Settings:
    cfg = access_config(
        tmp_path,
        acs,
        dayuse={"compartments": {"main-lobby": [1, 2]}, "max_hours": 3, "per_patron": 1},
        branding={"library_name": LIBRARY, "help_phone": HELP},
    )
    return load_settings(None, **cfg)

AXE = Path(__file__).resolve().parents[1] / "web" / "vendor" / "axe.min.js"


def _axe(page: Any, name: str) -> None:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert not found, f"{name}: {found}"


def _phone(browser: Browser) -> tuple[Any, Any]:
    """A phone-sized browser. The injected axe script is inline, which the pages' CSP (rightly)
    forbids."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    return context, context.new_page()


@pytest.fixture
def token(rt: Runtime, acs: ReferenceACS) -> str:
    """Ana's hold is in a locker; the token of the link in her message."""
    load_hold(rt, ANA_ITEM)
    return phone_link(rt)


def test_the_link_from_a_spanish_message_opens_the_page_in_spanish_and_it_can_switch(
    token: str, live_url: str, browser: Browser
) -> None:
    context, page = _phone(browser)
    page.goto(f"{live_url}/phone/{token}?lang=es")  # as the Spanish message writes it
    expect(page.get_by_role("heading", name="Sus documentos están listos")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_text(LIBRARY).first).to_be_visible()
    expect(page.get_by_label("Número de la pantalla del casillero")).to_be_visible()
    _axe(page, "phone-link-es")
    # A wrong number: the answer is in Spanish too.
    page.get_by_label("Número de la pantalla del casillero").fill("000000")
    page.get_by_role("button", name="Abrir mi casillero").click()
    expect(page.get_by_role("alert")).to_contain_text("no coincide con la pantalla")
    _axe(page, "phone-refused-es")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Your items are ready")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    _axe(page, "phone-link-en")
    context.close()


def _branded(page: Any, lang: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang
    expect(page.locator("header.brand")).to_contain_text(LIBRARY)
    expect(page.locator("footer")).to_contain_text(HELP)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            {
                "dayuse": "Day-use locker",
                "card": "Library card number",
                "number": "Number on the locker screen",
                "use": "Reserve or open my locker",
                "not_here": "does not match the locker screen",
                "yours": "Door 1 is yours until",
                "newcode": "Lost your code?",
                "get": "Show a new code",
                "presence": "Open with your phone",
                "other": "Español",
                "other_heading": "Casillero por horas",
            },
        ),
        (
            "es",
            {
                "dayuse": "Casillero por horas",
                "card": "Número de carné",
                "number": "Número de la pantalla del casillero",
                "use": "Reservar o abrir mi casillero",
                "not_here": "no coincide con la pantalla",
                "yours": "La puerta 1 es suya hasta",
                "newcode": "¿Perdió su código?",
                "get": "Mostrar un código nuevo",
                "presence": "Abrir con su móvil",
                "other": "English",
                "other_heading": "Day-use locker",
            },
        ),
    ],
)
def test_day_use_new_code_and_presence_pages_in_the_patrons_language_with_branding(
    rt: Runtime, live_url: str, browser: Browser, lang: str, words: dict[str, str]
) -> None:
    context, page = _phone(browser)
    # Day use from the phone: the form, a wrong number, then the right one.
    page.goto(f"{live_url}/phone/dayuse/main-lobby?lang={lang}")
    expect(page.get_by_role("heading", name=words["dayuse"])).to_be_visible()
    _branded(page, lang)
    _axe(page, f"phone-dayuse-{lang}")
    page.get_by_label(words["card"]).fill(ANA)
    page.get_by_label("PIN").fill(ANA_PIN)
    page.get_by_label(words["number"]).fill("000000")
    page.get_by_role("button", name=words["use"]).click()
    expect(page.get_by_role("alert")).to_contain_text(words["not_here"])
    _branded(page, lang)
    _axe(page, f"phone-dayuse-refused-{lang}")
    page.get_by_label(words["card"]).fill(ANA)
    page.get_by_label("PIN").fill(ANA_PIN)
    page.get_by_label(words["number"]).fill(kiosk_code(rt, "main-lobby")[0])
    page.get_by_role("button", name=words["use"]).click()
    expect(page.get_by_role("status")).to_contain_text(words["yours"])
    assert sim(rt).is_open(1)
    _axe(page, f"phone-dayuse-reserved-{lang}")
    # The language links of an answer lead back to the form, in the other language.
    page.get_by_role("link", name=words["other"]).click()
    expect(page.get_by_role("heading", name=words["other_heading"])).to_be_visible()

    # A new code: the form, and a refusal (wrong PIN) in the same language.
    page.goto(f"{live_url}/phone/newcode/main-lobby?lang={lang}")
    expect(page.get_by_role("heading", name=words["newcode"])).to_be_visible()
    _branded(page, lang)
    _axe(page, f"phone-newcode-{lang}")
    page.get_by_label(words["card"]).fill(ANA)
    page.get_by_label("PIN", exact=False).fill("0000")
    page.get_by_role("button", name=words["get"]).click()
    expect(page.get_by_role("alert")).to_be_visible()
    _branded(page, lang)
    _axe(page, f"phone-newcode-denied-{lang}")
    context.close()

    # The presence screen, as the bank's kiosk shows it.
    token = enrol(rt, "main-lobby", "Lobby", actor="staff:admin")[1]
    kiosk = browser.new_context(
        viewport={"width": 1080, "height": 1920},
        bypass_csp=True,
        extra_http_headers={"X-Lockerbridge-Kiosk": token},
    )
    screen = kiosk.new_page()
    screen.goto(f"{live_url}/phone/presence/main-lobby?lang={lang}")
    expect(screen.get_by_role("heading", name=words["presence"])).to_be_visible()
    _branded(screen, lang)
    _axe(screen, f"phone-presence-{lang}")
    assert screen.locator("meta[http-equiv=refresh]").count() == 0  # updated in place
    kiosk.close()


def test_the_scanned_page_the_opened_page_and_a_used_link_in_both_languages(
    rt: Runtime, token: str, live_url: str, browser: Browser
) -> None:
    context, page = _phone(browser)
    for lang, ask in (("en", "Open your locker now?"), ("es", "¿Abrir su casillero ahora?")):
        page.goto(f"{live_url}/phone/{token}?lang={lang}")  # remembers the link and language
        page.goto(f"{live_url}/phone/here/main-lobby?code={kiosk_code(rt, 'main-lobby')[0]}")
        expect(page.get_by_text(ask)).to_be_visible()
        _branded(page, lang)
        _axe(page, f"phone-here-{lang}")
    page.get_by_role("button", name="Abrir mi casillero").click()
    expect(page.get_by_role("heading", name="Su casillero está abierto")).to_be_visible()
    _branded(page, "es")
    _axe(page, "phone-opened-es")
    for lang, gone in (("es", "Enlace no válido"), ("en", "Link not usable")):
        page.goto(f"{live_url}/phone/{token}?lang={lang}")
        expect(page.get_by_role("heading", name=gone)).to_be_visible()
        _branded(page, lang)
        _axe(page, f"phone-link-used-{lang}")
    context.close()
