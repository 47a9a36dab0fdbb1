"""The patron's phone pages (``/phone/...``) and the kiosk's presence-code screen.

- ``GET /phone/<token>``: the link from the ready-for-pickup message. Shows what waits where
  and a form for the number on the locker screen. Reading it changes nothing. It remembers the
  token in a cookie limited to ``/phone`` so that scanning the kiosk's QR code (which opens
  ``/phone/here/<bank_id>?code=...``) finds it.
- ``POST /phone/<token>/open``: presence code in, pickup out (``bridge.access.phone``).
- ``GET /phone/presence/<bank_id>``: the rotating number and its QR code, for the kiosk screen.
  Only an enrolled kiosk of the bank (:mod:`bridge.web.kiosk_identity`; header
  ``X-Lockerbridge-Kiosk`` or cookie ``lb_kiosk``) sees it: a number visible from afar would
  prove nothing.
- ``/phone/dayuse/<bank_id>``: reserve or reopen a day-use compartment (card + PIN + presence).

``init_app`` also registers the directory sign-in (:mod:`bridge.web.directory`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue

from bridge.access import phone
from bridge.config import BankSettings
from bridge.staff_users import Role
from bridge.web import security
from bridge.web.kiosk_identity import kiosk_allowed

bp = Blueprint("phone", __name__, url_prefix="/phone")
security.protect_blueprint(bp)

TOKEN_COOKIE = "lb_phone"  # noqa: S105  (a cookie name)
ASSETS = Path(__file__).resolve().parent.parent / "templates" / "phone"


def init_app(app: Flask) -> None:
    security.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(staff_bp)
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


def client_key() -> str:
    """The guessing-limit subject of a phone or browser that is no kiosk: its address (the
    real client's once ``web.trusted_proxies`` lets the proxy's header through)."""
    return f"addr:{request.remote_addr or 'unknown'}"


def presence_target(rt: Any, bank_id: str) -> tuple[str, int, str]:
    """The bank's presence number now, the seconds it has left, and the phone page address a
    QR code of it points at."""
    code, left = phone.kiosk_code(rt, bank_id)
    base = rt.settings.access.public_url or request.host_url
    return code, left, f"{base.rstrip('/')}{url_for('phone.here', bank_id=bank_id)}?code={code}"


@bp.get("/presence/<bank_id>")
def presence_screen(bank_id: str) -> ResponseReturnValue:
    bank = _bank(bank_id)
    if not kiosk_allowed(bank.id):
        abort(403)
    code, left, target = presence_target(security.runtime(), bank.id)
    qr = segno.make(target, error="m").svg_data_uri(scale=6)
    if request.args.get("format") == "json":
        return {"bank": bank.id, "code": code, "seconds_left": left, "url": target}
    return render_template("phone/presence.html", bank=bank, code=code, seconds_left=left, qr=qr)


# --- day-use lockers from the phone -----------------------------------------------------------


@bp.get("/dayuse/<bank_id>")
def dayuse_form(bank_id: str) -> ResponseReturnValue:
    bank = _bank(bank_id)
    rt = security.runtime()
    return render_template(
        "phone/dayuse.html", bank=bank, result=None, max_hours=rt.settings.dayuse.max_hours
    )


@bp.post("/dayuse/<bank_id>")
def dayuse_post(bank_id: str) -> ResponseReturnValue:
    from bridge.access.verification import Verdict, verify_presence
    from bridge.services import dayuse
    from bridge.services.banks import audit
    from bridge.storage.db import unit_of_work

    bank = _bank(bank_id)
    rt = security.runtime()
    card = (request.form.get("card") or "").strip()[:64]
    pin = (request.form.get("pin") or "")[:64]
    code = (request.form.get("code") or "")[:20]
    try:
        hours = int(request.form.get("hours") or "1")
    except ValueError:
        hours = 0
    max_hours = rt.settings.dayuse.max_hours
    client = client_key()
    checked = verify_presence(rt, bank.id, code, subject=f"dayuse:{bank.id}/{client}", via="dayuse")
    if not checked.verified.ok:
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "dayuse_presence_refused",
                at=rt.clock(),
                bank_id=bank.id,
                actor="patron",
                reason=checked.found.presence.value if checked.found else "locked_out",
                other_bank=checked.found.other_bank if checked.found else None,
            )
        return (
            render_template(
                "phone/dayuse.html",
                bank=bank,
                result=checked.verified.message,
                ok=False,
                max_hours=max_hours,
            ),
            429 if checked.verified.verdict is Verdict.LOCKED_OUT else 422,
        )
    if request.form.get("action") == "finish":
        result = dayuse.finish(rt, bank.id, card, pin, kiosk=client)
    else:
        result = dayuse.use(rt, bank.id, card, pin, hours=hours, via="phone", kiosk=client)
    ok = result.outcome in (
        dayuse.DayUseOutcome.RESERVED,
        dayuse.DayUseOutcome.OPENED,
        dayuse.DayUseOutcome.FINISHED,
    )
    return (
        render_template(
            "phone/dayuse.html", bank=bank, result=result.message, ok=ok, max_hours=max_hours
        ),
        200 if ok else 422,
    )


# --- staff: day-use overview and code re-issue (/staff/access) --------------------------------

staff_bp = Blueprint("access_staff", __name__, url_prefix="/staff/access")
security.protect_blueprint(staff_bp)


@staff_bp.get("/dayuse")
@security.require_role(Role.VIEWER)
def dayuse_overview() -> ResponseReturnValue:
    from bridge.services import dayuse

    rt = security.runtime()
    lines = dayuse.overview(rt)
    return render_template(
        "phone/staff_dayuse.html",
        lines=lines,
        banks={b.id: b.name for b in rt.settings.banks},
        now=rt.clock(),
        message=request.args.get("done"),
    )


@staff_bp.post("/dayuse/<int:reservation>/emptied")
@security.require_role(Role.STAFF)
def dayuse_emptied(reservation: int) -> ResponseReturnValue:
    from bridge.services import dayuse

    user = security.signed_in_user()
    assert user is not None
    dayuse.emptied(security.runtime(), reservation, actor=f"staff:{user.username}")
    return redirect(url_for("access_staff.dayuse_overview", done="Marked as emptied."))


@staff_bp.post("/reissue")
@security.require_role(Role.STAFF)
def reissue_code() -> ResponseReturnValue:
    """From the status page: a new code for the patron whose items are in a compartment."""
    from bridge.access import reissue

    user = security.signed_in_user()
    assert user is not None
    bank = _bank((request.form.get("bank_id") or "")[:63])
    reason = (request.form.get("reason") or "").strip()[:200]
    try:
        number = int(request.form.get("compartment") or "")
    except ValueError:
        abort(400)
    if not reason:
        return render_template("phone/staff_reissue.html", message="Give a reason.", ok=False), 400
    result = reissue.reissue_for_compartment(
        security.runtime(), bank.id, number, actor=f"staff:{user.username}", reason=reason
    )
    ok = result.outcome is reissue.ReissueOutcome.ISSUED
    message = result.message if not ok else f"Compartment {number}: {result.message}"
    return render_template("phone/staff_reissue.html", message=message, ok=ok), (
        200 if ok else 429 if result.outcome is reissue.ReissueOutcome.TOO_MANY else 409
    )


# --- lost or forgotten code (kiosk "Get a new code", also usable on a phone) -----------------


@bp.get("/newcode/<bank_id>")
def new_code(bank_id: str) -> ResponseReturnValue:
    return render_template("phone/newcode.html", bank=_bank(bank_id), result=None, ok=False)


@bp.post("/newcode/<bank_id>")
def new_code_post(bank_id: str) -> ResponseReturnValue:
    from bridge.access import reissue

    bank = _bank(bank_id)
    rt = security.runtime()
    card = (request.form.get("card") or "").strip()[:64]
    pin = (request.form.get("pin") or "")[:64]
    if not card:
        return render_template(
            "phone/newcode.html", bank=bank, result="Enter your library card number.", ok=False
        ), 422
    if request.form.get("action") == "resend":
        result = reissue.resend_message(rt, bank.id, card, client=client_key())
        ok = True
    else:
        result = reissue.reissue_with_card(rt, bank.id, card, pin, kiosk=client_key())
        ok = result.outcome is reissue.ReissueOutcome.ISSUED
    return render_template(
        "phone/newcode.html", bank=bank, result=result.message, ok=ok, code=result.code
    ), (200 if ok else 422)
