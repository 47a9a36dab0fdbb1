"""The patron's phone pages (``/phone/...``) and the kiosk's presence-code screen.

- ``GET /phone/<token>``: the link from the ready-for-pickup message. Shows what waits where
  and a form for the number on the locker screen. Reading it changes nothing. It remembers the
  token in a cookie limited to ``/phone`` so that scanning the kiosk's QR code (which opens
  ``/phone/here/<bank_id>?code=...``) finds it.
- ``POST /phone/<token>/open``: presence code in, pickup out (``bridge.access.phone``).
- ``GET /phone/presence/<bank_id>``: the rotating number and its QR code, for the kiosk screen.
  Only a kiosk holding the bank's key (``access.kiosk_keys``; header ``X-Lockerbridge-Kiosk``
  or cookie ``lb_kiosk``) sees it: a number visible from afar would prove nothing.
- ``/phone/dayuse/<bank_id>``: reserve or reopen a day-use compartment (card + PIN + presence).

``init_app`` also registers the directory sign-in (:mod:`bridge.web.directory`).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue

from bridge.access import phone
from bridge.config import BankSettings
from bridge.web import security

bp = Blueprint("phone", __name__, url_prefix="/phone")
security.protect_blueprint(bp)

TOKEN_COOKIE = "lb_phone"  # noqa: S105  (a cookie name)
KIOSK_COOKIE = "lb_kiosk"
KIOSK_HEADER = "X-Lockerbridge-Kiosk"
ASSETS = Path(__file__).resolve().parent.parent / "templates" / "phone"


def init_app(app: Flask) -> None:
    security.init_app(app)
    app.register_blueprint(bp)
    from bridge.web import directory

    directory.init_app(app)


@bp.after_request
def _no_store(response: Any) -> Any:
    # Links and results are personal: never kept by the phone's browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/phone.css")
def stylesheet() -> ResponseReturnValue:
    return send_from_directory(ASSETS, "phone.css", mimetype="text/css")


def _bank(bank_id: str) -> BankSettings:
    try:
        return security.runtime().settings.bank(bank_id)
    except KeyError:
        abort(404)


def _token_ok(token: str) -> None:
    if len(token) > 100:
        abort(404)


@bp.get("/<token>")
def link(token: str) -> ResponseReturnValue:
    _token_ok(token)
    rt = security.runtime()
    shown = phone.view(rt, token)
    page = render_template("phone/link.html", link=shown, token=token, result=None, code="")
    response = make_response(page, 200 if shown.state is phone.LinkState.LIVE else 410)
    if shown.state is phone.LinkState.LIVE:
        response.set_cookie(
            TOKEN_COOKIE,
            token,
            max_age=int((shown.expires_at - rt.clock()).total_seconds())
            if shown.expires_at
            else None,
            path="/phone",
            secure=rt.settings.web.secure_cookies,
            httponly=True,
            samesite="Lax",  # sent when the camera app opens the kiosk's QR link
        )
    return response


@bp.post("/<token>/open")
def open_post(token: str) -> ResponseReturnValue:
    _token_ok(token)
    rt = security.runtime()
    code = (request.form.get("code") or "")[:20]
    fee = request.form.get("fee_acknowledged") == "yes"
    result = phone.open_from_phone(rt, token, code, fee_acknowledged=fee)
    shown = phone.view(rt, token) if result.outcome is not phone.PhoneOutcome.OPENED else None
    status = 200
    if result.outcome in (phone.PhoneOutcome.NOT_HERE, phone.PhoneOutcome.PICKUP_REFUSED):
        status = 422
    elif result.outcome is phone.PhoneOutcome.LINK_REFUSED:
        status = 410
    elif result.outcome is phone.PhoneOutcome.LOCKED_OUT:
        status = 429
    return (
        render_template("phone/link.html", link=shown, token=token, result=result, code=code),
        status,
    )


@bp.get("/here/<bank_id>")
def here(bank_id: str) -> ResponseReturnValue:
    """Opened by scanning the kiosk's QR code: confirm before anything opens (no change on GET)."""
    bank = _bank(bank_id)
    rt = security.runtime()
    code = "".join(ch for ch in (request.args.get("code") or "")[:12] if ch.isdigit())
    token = request.cookies.get(TOKEN_COOKIE, "")
    shown = phone.view(rt, token) if token else None
    if shown is not None and shown.state is phone.LinkState.LIVE and shown.bank_id != bank.id:
        other = shown.bank_name
        message = f"This is the {bank.name} locker. Your items are at {other}."
        return render_template("phone/here.html", bank=bank, link=None, message=message), 422
    if shown is None or shown.state is not phone.LinkState.LIVE:
        message = (
            "Open the link in your message first, then scan the code on the screen again "
            "or type the number shown there."
        )
        return render_template("phone/here.html", bank=bank, link=None, message=message), 404
    return render_template(
        "phone/here.html", bank=bank, link=shown, token=token, code=code, message=None
    )


def _kiosk_allowed(bank_id: str) -> bool:
    keys = security.runtime().settings.access.kiosk_keys
    expected = keys.get(bank_id) or ""
    given = request.headers.get(KIOSK_HEADER) or request.cookies.get(KIOSK_COOKIE) or ""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


@bp.get("/presence/<bank_id>")
def presence_screen(bank_id: str) -> ResponseReturnValue:
    bank = _bank(bank_id)
    if not _kiosk_allowed(bank.id):
        abort(403)
    rt = security.runtime()
    code, left = phone.kiosk_code(rt, bank.id)
    base = rt.settings.access.public_url or request.host_url
    target = f"{base.rstrip('/')}{url_for('phone.here', bank_id=bank.id)}?code={code}"
    qr = segno.make(target, error="m").svg_data_uri(scale=6)
    if request.args.get("format") == "json":
        return {"bank": bank.id, "code": code, "seconds_left": left, "url": target}
    return render_template("phone/presence.html", bank=bank, code=code, seconds_left=left, qr=qr)
