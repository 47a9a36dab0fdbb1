"""The library's name, logo, help number and currency on the patron pages (``[branding]``).

The kiosk and the phone pages both show them; a bank may name its own help number (a locker
in another building). The logo is served from our own origin because the pages' Content
Security Policy loads images from nowhere else.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from flask import Blueprint, Flask, abort, send_file, url_for
from flask.typing import ResponseReturnValue

from bridge.config import BankSettings, Settings
from bridge.web import security

bp = Blueprint("branding", __name__)


@dataclass(frozen=True)
class Brand:
    library_name: str
    logo: str | None  # URL of the logo on our origin
    logo_alt: str
    help_phone: str
    currency: str
    staffed: bool  # someone at the bank could help: the patron may be told to ask them

    def money(self, amount: object) -> str:
        """An amount as a patron reads it: ``2.00 USD``."""
        text = str(amount).strip()
        if not text or not any(ch.isdigit() for ch in text):
            return text
        return f"{text} {self.currency}" if self.currency else text


def brand_for(settings: Settings, bank: BankSettings | None) -> Brand:
    b = settings.branding
    return Brand(
        library_name=b.library_name or settings.notifications.library_name,
        logo=url_for("branding.logo") if b.logo_file else None,
        logo_alt=b.logo_alt,
        help_phone=(bank.help_phone if bank and bank.help_phone else b.help_phone),
        currency=b.currency,
        staffed=bank.staffed if bank else True,
    )


@bp.get("/branding/logo")
def logo() -> ResponseReturnValue:
    path = security.runtime().settings.branding.logo_file
    if path is None or not path.is_file():
        abort(404)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=kind, max_age=3600)
    return response


def init_app(app: Flask) -> None:
    if "branding" not in app.blueprints:
        app.register_blueprint(bp)
