"""The kiosk's receipt after a pickup shows the due date the reference ACS put in its checkout
reply (SIP2 12 AH), over real TCP, in the patron's language."""

from __future__ import annotations

from bridge.runtime import Runtime
from bridge.services.access.kiosks import enrol
from bridge.web.app import create_app
from bridge.web.kiosk.words import due_date
from sip2.acs.server import ReferenceACS
from tests.access.conftest import ANA, ANA_ITEM, ANA_PIN, load_hold
from tests.web.conftest import csrf_from


def test_the_pickup_receipt_shows_the_due_date_from_the_acs(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)
    client = create_app(rt.settings, rt).test_client()
    token = enrol(rt, "main-lobby", "Lobby", actor="staff:admin")[1]
    headers = {"X-Lockerbridge-Kiosk": token}
    form = client.get("/kiosk/main-lobby/pickup/card?lang=es", headers=headers)
    resp = client.post(
        "/kiosk/main-lobby/pickup/card?lang=es",
        headers=headers,
        data={"card": ANA, "pin": ANA_PIN, "lang": "es", "csrf_token": csrf_from(form.get_data(as_text=True))},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f"La puerta {door} está abierta" in html
    item = acs.catalogue.item(ANA_ITEM)
    assert item is not None and item.due is not None  # set by the ACS at checkout
    shown = due_date("es", item.due, rt.settings.bank("main-lobby").timezone)
    assert f"<td>{item.title}</td><td>{shown}</td>" in html
