"""The patron kiosk at a locker bank: pick up, return, borrow equipment (``/kiosk/<bank_id>``).

Only an enrolled kiosk of the bank gets any of these pages (:mod:`bridge.web.kiosk.identity`).
Stateless on purpose: nothing about the patron is kept between requests (no session data, no
cookies beyond the CSRF token), so going back to the start screen - by the patron or by the
time-out in ``static/js/kiosk.js`` - leaves nothing behind. Results are rendered once and
marked ``no-store``. Words come from :mod:`bridge.web.kiosk.text` (English, Spanish).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select

from bridge.config import BankSettings
from bridge.services import pickup as service
from bridge.services import receipts
from bridge.services.access.kiosks import device_for
from bridge.services.dayuse import doors_of
from bridge.services.equipment import BorrowOutcome, borrow_equipment
from bridge.services.return_doors import open_return_door
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import EquipmentRow
from bridge.web import branding, security
from bridge.web.kiosk import (
    access,  # noqa: F401  (its routes: presence, reader, day use, new code)
    words,
)
from bridge.web.kiosk import identity as kiosk_identity
from bridge.web.kiosk.access import presence
from bridge.web.kiosk.layout import render_kiosk
from bridge.web.kiosk.pages import (
    MAX_FIELD,
    bank_or_404,
    bp,
    form_field,
    kiosk_key_of,
    language_of,
    receipts_sent,
    render_page,
    say,
)
from bridge.web.kiosk.simulated import close_from_form
from bridge.web.kiosk.text import text
from bridge.web.staff.kiosks import COOKIE_DAYS


def init_app(app: Flask) -> None:
    security.init_app(app)
    branding.init_app(app)
    app.register_blueprint(bp)


def _receipt_offer(
    bank: BankSettings, patron: str | None, lent: list[tuple[str, Any, bool]], what: str
) -> str | None:
    """The sealed "Send me a receipt" offer for a result screen (services.receipts); each
    loan is (what, due date, made while the ILS was down)."""
    items = [receipts.LentItem(title, due, offline) for title, due, offline in lent]
    return receipts.offer(security.runtime(), bank.id, patron or "", items, what)


@bp.errorhandler(CSRFError)
def expired_form(exc: CSRFError) -> ResponseReturnValue:
    # The kiosk sat on a form for longer than the token lives: start again, nothing happened.
    bank_id = (request.view_args or {}).get("bank_id", "")
    return redirect(url_for("kiosk.start", bank_id=bank_id)) if bank_id else ("", 400)


@bp.get("/<bank_id>")
def start(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    return render_page(
        "kiosk/start.html",
        bank,
        presence=presence(rt, bank),
        reader_poll=url_for("kiosk.reader_state", bank_id=bank.id),
        dayuse=bool(doors_of(rt, bank.id)),
        equipment=_has_equipment(bank.id),
    )


def _has_equipment(bank_id: str) -> bool:
    """Whether this bank lends equipment at all (offered even when all of it is out)."""
    rt = security.runtime()
    if not rt.settings.equipment:
        return False
    with unit_of_work(rt.sessions) as s:
        found = s.scalar(select(EquipmentRow.id).where(EquipmentRow.bank_id == bank_id).limit(1))
    return found is not None


@bp.post("/<bank_id>/enrol")
def enrol_with_token(bank_id: str) -> ResponseReturnValue:
    """A token from ``lockerbridge kiosk enrol`` or the administrators' kiosk page, typed on
    the not-enrolled page: a live token of this bank makes this browser its kiosk."""

    bank = bank_or_404(bank_id)
    rt = security.runtime()
    token = (request.form.get("token") or "").strip()[:200]
    if device_for(rt, bank.id, token) is None:
        error = "That is not a live kiosk token of this bank."
        return render_kiosk("kiosk/not_enrolled.html", bank, error=error), 403
    response = redirect(url_for("kiosk.start", bank_id=bank.id))
    response.set_cookie(
        kiosk_identity.KIOSK_COOKIE,
        token,
        max_age=COOKIE_DAYS * 24 * 3600,
        path="/",
        secure=rt.settings.web.secure_cookies,
        httponly=True,
        samesite="Strict",
    )
    return response


@bp.get("/<bank_id>/pickup")
def pickup(bank_id: str) -> ResponseReturnValue:
    return render_page("kiosk/pickup.html", bank_or_404(bank_id))


@bp.get("/<bank_id>/pickup/<way>")
def pickup_form(bank_id: str, way: str) -> ResponseReturnValue:
    if way not in ("card", "code", "qr"):
        abort(404)
    return render_page(
        "kiosk/pickup_form.html",
        bank_or_404(bank_id),
        way=way,
        error=None,
        fee_acknowledged=request.args.get("fee") == "1",
    )


@bp.post("/<bank_id>/pickup/<way>")
def pickup_post(bank_id: str, way: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    fee = request.form.get("fee_acknowledged") == "1"
    kiosk = kiosk_key_of(bank_id)
    if way == "card":
        card, pin = form_field("card"), form_field("pin")
        if not card or not pin:
            return _missing(bank, way)
        result = service.pickup_with_card(rt, bank_id, card, pin, kiosk=kiosk, fee_acknowledged=fee)
    elif way in ("code", "qr"):
        secret = form_field(way)
        if not secret:
            return _missing(bank, way)
        call = service.pickup_with_code if way == "code" else service.pickup_with_qr
        result = call(rt, bank_id, secret, kiosk=kiosk, fee_acknowledged=fee)
    else:
        abort(404)
    lang = language_of(bank)
    brand = branding.brand_for(rt.settings, bank)
    status = 200 if result.opened else 422
    asking = result.fee_to_acknowledge and way in ("code", "qr", "card")
    return (
        render_page(
            "kiosk/result.html",
            bank,
            ok=bool(result.opened),
            headline=words.pickup_headline(lang, result, bank.timezone, brand, way),
            opened=result.opened,
            refused=[words.refusal_line(lang, r, brand) for r in result.refused],
            receipt=words.pickup_receipt(lang, result, bank.timezone),
            receipt_sent=bool(result.loans) and receipts_sent(),
            receipt_offer=(
                None
                if receipts_sent()
                else _receipt_offer(
                    bank,
                    result.patron,
                    [(ln.title or ln.item, ln.due, ln.offline) for ln in result.loans],
                    "pickup",
                )
            ),
            fee_question=(
                url_for("kiosk.pickup_form", bank_id=bank.id, way=way, lang=lang, fee="1")
                if asking
                else None
            ),
            retry=url_for("kiosk.pickup_form", bank_id=bank.id, way=way, lang=lang),
            handling="take",
        ),
        status,
    )


def _missing(bank: BankSettings, way: str) -> tuple[str, int]:
    error = text(language_of(bank), "missing_fields")
    fee = request.form.get("fee_acknowledged") == "1"
    return render_page(
        "kiosk/pickup_form.html", bank, way=way, error=error, fee_acknowledged=fee
    ), 422


@bp.get("/<bank_id>/return")
def return_form(bank_id: str) -> ResponseReturnValue:
    return render_page("kiosk/return.html", bank_or_404(bank_id), error=None)


@bp.post("/<bank_id>/return")
def return_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    lang = language_of(bank)
    item = form_field("item")
    if not item:
        return render_page("kiosk/return.html", bank, error=text(lang, "return_missing")), 422
    door = open_return_door(security.runtime(), bank_id, item)
    if door.opened is None:
        key = "return_full" if door.full else "return_door_failed"
        return (
            render_page(
                "kiosk/result.html",
                bank,
                ok=False,
                headline=say(bank, key),
                retry=url_for("kiosk.return_form", bank_id=bank.id, lang=lang),
            ),
            503,
        )
    return render_page(
        "kiosk/result.html",
        bank,
        ok=True,
        headline=text(lang, "return_opened", door=door.opened),
        opened=(door.opened,),
        note=text(lang, "return_noted"),
        handling="put",
    )


# --- equipment --------------------------------------------------------------------------------


def _available(bank_id: str) -> list[tuple[str, str, int]]:
    """(category, its label, how many) of the equipment ready to lend at this bank."""
    rt = security.runtime()
    labels = {c.name: c.label for c in rt.settings.equipment}
    with unit_of_work(rt.sessions) as s:
        rows = s.execute(
            select(EquipmentRow.category, func.min(EquipmentRow.title), func.count())
            .where(EquipmentRow.bank_id == bank_id, EquipmentRow.state == "available")
            .group_by(EquipmentRow.category)
            .order_by(EquipmentRow.category)
        ).all()
    return [(c, labels.get(c) or title, n) for c, title, n in rows]


def _equipment_page(
    bank: BankSettings, error: str | None, status: int = 200
) -> ResponseReturnValue:
    fee = request.values.get("fee_acknowledged") == "1" or request.args.get("fee") == "1"
    return (
        render_page(
            "kiosk/equipment.html",
            bank,
            available=_available(bank.id),
            chosen=(request.values.get("category") or "")[:MAX_FIELD],
            fee_acknowledged=fee,
            error=error,
        ),
        status,
    )


@bp.get("/<bank_id>/equipment")
def equipment_form(bank_id: str) -> ResponseReturnValue:
    return _equipment_page(bank_or_404(bank_id), None)


@bp.post("/<bank_id>/equipment")
def equipment_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    lang = language_of(bank)
    category, card, pin = form_field("category"), form_field("card"), form_field("pin")
    if not (category and card and pin):
        return _equipment_page(bank, text(lang, "missing_fields"), 422)
    result = borrow_equipment(
        security.runtime(),
        bank_id,
        card,
        pin,
        category,
        request.form.get("fee_acknowledged") == "1",
        kiosk=kiosk_key_of(bank_id),
    )
    opened = (result.compartment,) if result.outcome is BorrowOutcome.OPENED else ()
    brand = branding.brand_for(security.runtime().settings, bank)
    asking = result.outcome is BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT
    labels = {c.name: c.label for c in security.runtime().settings.equipment}
    return (
        render_page(
            "kiosk/result.html",
            bank,
            ok=bool(opened),
            headline=words.borrow_headline(lang, result, bank.timezone, brand),
            opened=opened,
            detail=words.borrow_detail(lang, result, brand),
            receipt=words.borrow_receipt(
                lang, result, labels.get(category) or category, bank.timezone
            ),
            receipt_offer=(
                _receipt_offer(
                    bank, card, [(labels.get(category) or category, result.due, False)], "equipment"
                )
                if result.outcome in (BorrowOutcome.OPENED, BorrowOutcome.DOOR_FAILED)
                else None
            ),
            fee_question=(
                url_for(
                    "kiosk.equipment_form", bank_id=bank.id, lang=lang, category=category, fee="1"
                )
                if asking
                else None
            ),
            retry=url_for("kiosk.equipment_form", bank_id=bank.id, lang=lang, category=category),
            handling="take",
        ),
        200 if opened else 422,
    )


@bp.post("/<bank_id>/receipt")
def receipt_post(bank_id: str) -> ResponseReturnValue:
    """ "Send me a receipt" on a pickup or loan result: the offer the page carried is queued for
    the patron's e-mail or SMS."""
    bank = bank_or_404(bank_id)
    offer = (request.form.get("offer") or "")[:16000]
    outcome = receipts.send(security.runtime(), bank.id, offer)
    queued = outcome is receipts.ReceiptOutcome.QUEUED
    return (
        render_page(
            "kiosk/result.html",
            bank,
            ok=queued,
            headline=say(bank, "receipt_queued" if queued else "receipt_lapsed"),
        ),
        200 if queued else 410,
    )


# --- simulated bank ---------------------------------------------------------------------------


@bp.post("/<bank_id>/simulate/close")
def simulate_close(bank_id: str) -> ResponseReturnValue:
    """The patron at a simulated bank takes the items (or puts the return in) and closes the
    door; only a bank with the simulated driver has this (demo and tests)."""

    bank = bank_or_404(bank_id)
    close_from_form(security.runtime(), bank.id, request.form)
    return redirect(url_for("kiosk.start", bank_id=bank.id, lang=language_of(bank)))
