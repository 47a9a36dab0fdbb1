"""What every kiosk page shares: the blueprint, the bank asked for, the patron's language,
form fields, the device's key for guessing limits, and rendering in the bank's words.

Routes register on :data:`bp` from :mod:`bridge.web.kiosk.views` (pick up, return, borrow) and
:mod:`bridge.web.kiosk.access` (presence number, card reader, day use, new code).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from bridge.config import BankSettings
from bridge.web import branding, security
from bridge.web.kiosk import identity as kiosk_identity
from bridge.web.kiosk import words
from bridge.web.kiosk.layout import kiosk_language, render_kiosk
from bridge.web.kiosk.simulated import simulated_bank

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")
# The device check runs first: a browser that is not an enrolled kiosk gets nothing else.
bp.before_request(kiosk_identity.require_device)
security.protect_blueprint(bp)

MAX_FIELD = 128


def bank_or_404(bank_id: str) -> BankSettings:
    try:
        return security.runtime().settings.bank(bank_id)
    except KeyError:
        abort(404)


def language_of(bank: BankSettings) -> str:
    return kiosk_language(bank)


def form_field(name: str) -> str:
    return (request.form.get(name) or "").strip()[:MAX_FIELD]


def kiosk_key_of(bank_id: str) -> str:
    # Guessing limits per kiosk (docs/access.md, Guessing limits) key on the enrolled device.
    return kiosk_identity.kiosk_key(bank_id)


def render_page(template: str, bank: BankSettings, **context: Any) -> str:
    return render_kiosk(template, bank, simulated=is_simulated(bank.id), **context)


def receipts_sent() -> bool:
    """Whether a pickup receipt goes to the patron (docs/configuration.md, [notifications])."""
    n = security.runtime().settings.notifications
    return n.send_pickup_receipt and (n.email.enabled or n.sms.enabled)


def say(bank: BankSettings, key: str, **values: Any) -> str:
    """Catalogue text for a result at this bank, its ``{help}`` saying what to do next there."""
    brand = branding.brand_for(security.runtime().settings, bank)
    return words.say(language_of(bank), key, brand, **values)


def is_simulated(bank_id: str) -> bool:
    return simulated_bank(security.runtime(), bank_id) is not None
