"""The phone page in the patron's language: a Spanish message's link opens it in Spanish, the
patron can switch, the library's name is on it, and axe-core finds nothing serious in either
language (real chromium at a phone's size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from bridge.runtime import Runtime
from sip2.acs.server import ReferenceACS
from tests.access.conftest import ANA_ITEM, load_hold
from tests.access.test_phone import _link

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "web" / "vendor" / "axe.min.js"


def _axe(page: Any, name: str) -> None:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert not found, f"{name}: {found}"


def test_the_link_from_a_spanish_message_opens_the_page_in_spanish_and_it_can_switch(
    rt: Runtime, acs: ReferenceACS, live_url: str, browser: Browser
) -> None:
    load_hold(rt, ANA_ITEM)
    token = _link(rt)
    # The injected axe script is inline, which the pages' CSP (rightly) forbids.
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_url}/phone/{token}?lang=es")  # as the Spanish message writes it
    expect(page.get_by_role("heading", name="Sus documentos están listos")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_text(rt.settings.notifications.library_name).first).to_be_visible()
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
