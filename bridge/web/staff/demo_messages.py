"""The demo-only "Messages sent" page: what the demo's mail catcher received, each patron
message with its code and QR, so a newcomer can follow scan -> message -> pickup. Exists only
while ``demo_mailbox`` is set (``lockerbridge demo`` sets it); a 404 otherwise.

It also holds a card to the card reader of a simulated bank (``driver.card_reader``): the
reader reports it as a real one would, and the bank's kiosk asks for the PIN."""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bridge.config import BankSettings
from bridge.infra import demo_mail
from bridge.services.staff.accounts import Role
from bridge.web import security
from bridge.web.kiosk.simulated import simulated_bank
from bridge.web.staff.pages import bp


def _folder() -> Path:
    folder = security.runtime().settings.demo_mailbox
    if folder is None:
        abort(404)
    return folder


@bp.app_template_global()
def demo_messages_on() -> bool:
    return security.runtime().settings.demo_mailbox is not None


def _readers() -> list[BankSettings]:
    """Simulated banks with a card reader."""
    return [
        b
        for b in security.runtime().settings.banks
        if b.driver.kind == "simulated" and b.driver.card_reader
    ]


@bp.get("/demo/messages")
@security.require_role(Role.VIEWER)
def demo_messages() -> ResponseReturnValue:
    return render_template(
        "staff/demo_messages.html", messages=demo_mail.messages(_folder()), readers=_readers()
    )


@bp.post("/demo/card-reader")
@security.require_role(Role.STAFF)
def demo_card_read() -> ResponseReturnValue:
    _folder()
    bank = next((b for b in _readers() if b.id == request.form.get("bank")), None)
    card = (request.form.get("card") or "").strip()[:64]
    driver = simulated_bank(security.runtime(), bank.id) if bank else None
    if bank is None or driver is None or not bank.driver.card_reader:
        abort(404)
    if not card:
        flash("Type the library card number to hold to the reader.", "error")
    else:
        driver.present_card(card, reader=bank.driver.card_reader)
        flash(f"The card was read at {bank.name}: its kiosk now asks for the PIN.", "ok")
    return redirect(url_for("staff.demo_messages"))


@bp.get("/demo/messages/<name>/qr.png")
@security.require_role(Role.VIEWER)
def demo_message_qr(name: str) -> ResponseReturnValue:
    png = demo_mail.qr_png(_folder(), name)
    if png is None:
        abort(404)
    return Response(png, mimetype="image/png")
