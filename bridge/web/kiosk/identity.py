"""Which kiosk is asking: the enrolled device behind a kiosk request
(:mod:`bridge.services.access.kiosks`).

The device's token arrives in the HTTP-only cookie ``lb_kiosk`` (set at enrolment in the kiosk
browser) or, from a kiosk program, in the header ``X-Lockerbridge-Kiosk``. Every route of the
kiosk blueprint needs a live device of the bank in its address; anything else gets the
"kiosk not enrolled" page (HTTP 403) and nothing runs. Guessing limits at the kiosk key on the
device (``kiosk:<id>``), never on the client address.
"""

from __future__ import annotations

from flask import abort, g, request
from flask.typing import ResponseReturnValue

from bridge.services.access import kiosks
from bridge.web import security
from bridge.web.kiosk.layout import render_kiosk

KIOSK_COOKIE = "lb_kiosk"
KIOSK_HEADER = "X-Lockerbridge-Kiosk"


def device(bank_id: str) -> kiosks.KioskDevice | None:
    """The live enrolled device of ``bank_id`` making this request, else None (looked up once
    per request, so a revoked token stops working at its next request)."""
    cache: dict[str, kiosks.KioskDevice | None] = g.setdefault("kiosk_devices", {})
    if bank_id not in cache:
        token = request.headers.get(KIOSK_HEADER) or request.cookies.get(KIOSK_COOKIE)
        cache[bank_id] = kiosks.device_for(security.runtime(), bank_id, token)
    return cache[bank_id]


def kiosk_allowed(bank_id: str) -> bool:
    return device(bank_id) is not None


def kiosk_key(bank_id: str) -> str:
    """The guessing-limit subject of this kiosk. Only called behind :func:`require_device`."""
    found = device(bank_id)
    assert found is not None, "kiosk route without an enrolled device"
    return found.key


ENROL_ENDPOINT = "kiosk.enrol_with_token"


def require_device() -> ResponseReturnValue | None:
    """``before_request`` of the kiosk blueprint: an unknown bank is 404, a browser that is not
    an enrolled kiosk of the bank gets the not-enrolled page and the view never runs (except
    the page where a token made by an administrator is typed in)."""
    bank_id = (request.view_args or {}).get("bank_id")
    if bank_id is None or request.endpoint == ENROL_ENDPOINT:
        return None
    rt = security.runtime()
    try:
        bank = rt.settings.bank(bank_id)
    except KeyError:
        abort(404)
    if kiosk_allowed(bank.id):
        return None
    return render_kiosk("kiosk/not_enrolled.html", bank, error=None), 403
