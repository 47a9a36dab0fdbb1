"""The patron's phone pages (``/phone/...``) and the kiosk's presence-code screen.

- ``GET /phone/<token>``: the link from the ready-for-pickup message. Shows what waits where
  and a form for the number on the locker screen. Reading it changes nothing. It remembers the
  token in a cookie limited to ``/phone`` so that scanning the kiosk's QR code (which opens
  ``/phone/here/<bank_id>?code=...``) finds it.
- ``POST /phone/<token>/open``: presence code in, pickup out (``bridge.services.access.phone``).
- ``GET /phone/presence/<bank_id>``: the rotating number and its QR code, for the kiosk screen.
  Only an enrolled kiosk of the bank (:mod:`bridge.web.kiosk.identity`; header
  ``X-Lockerbridge-Kiosk`` or cookie ``lb_kiosk``) sees it: a number visible from afar would
  prove nothing.
- ``/phone/dayuse/<bank_id>``: reserve or reopen a day-use compartment (card + PIN + presence).

``init_app`` also registers the directory sign-in (:mod:`bridge.web.directory.pages`).
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

from bridge.config import BankSettings
from bridge.services import dayuse
from bridge.services.access import phone, reissue
from bridge.services.access.presence import Presence
from bridge.services.access.verification import Verdict, verify_presence
from bridge.services.banks import audit
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.web import security
from bridge.web.branding import brand_for
from bridge.web.directory import pages as directory_pages
from bridge.web.kiosk import words as kiosk_words
from bridge.web.kiosk.identity import kiosk_allowed
from bridge.web.kiosk.text import LANGUAGES, language, text

bp = Blueprint("phone", __name__, url_prefix="/phone")
security.protect_blueprint(bp)

TOKEN_COOKIE = "lb_phone"  # noqa: S105  (a cookie name)
ASSETS = Path(__file__).resolve().parent.parent / "templates" / "phone"


def init_app(app: Flask) -> None:
    security.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(staff_bp)

    directory_pages.init_app(app)


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


LANG_COOKIE = "lb_lang"


def _lang(bank: BankSettings | None) -> str:
    """The patron's language: asked for (the link in a Spanish message carries ``lang=es``;
    the page's language links), else remembered from an earlier page, else the bank's."""

    asked = request.values.get("lang") or request.cookies.get(LANG_COOKIE)
    return language(asked, bank.language if bank else "en")


def _patron_page(
    template: str, bank: BankSettings | None, *, form_endpoint: str = "phone.link", **context: Any
) -> Any:
    """A patron's phone page in their language, with the library's branding; the language is
    remembered (cookie limited to ``/phone``) for the pages that follow, such as the one the
    kiosk's QR code opens. The language links of a page that answers a form lead back to the
    form (``form_endpoint``)."""

    rt = security.runtime()
    lang = _lang(bank)
    brand = brand_for(rt.settings, bank)

    def t(key: str, **values: Any) -> str:
        return kiosk_words.say(lang, key, brand, **values)

    def link_words(state: phone.LinkState) -> str:
        return kiosk_words.link_words(lang, brand, state)

    def due_date(language: str, at: Any) -> str:
        return kiosk_words.due_date(language, at, bank.timezone if bank else "UTC") or ""

    params: dict[str, Any] = dict(request.view_args or {})
    params.update((k, v) for k, v in request.args.items() if k != "lang")
    endpoint = request.endpoint if request.method == "GET" else form_endpoint
    switch = {code: url_for(endpoint or form_endpoint, **params, lang=code) for code in LANGUAGES}
    page = render_template(
        template,
        t=t,
        lang=lang,
        languages=LANGUAGES,
        switch=switch,
        brand=brand,
        text=text,
        due_date=due_date,
        link_words=link_words,
        bank=bank,
        **context,
    )
    response = make_response(page)
    response.set_cookie(
        LANG_COOKIE,
        lang,
        path="/phone",
        secure=rt.settings.web.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    return response


def _result_words(result: phone.PhoneResult, lang: str, bank: BankSettings | None) -> str:
    return kiosk_words.phone_words(lang, brand_for(security.runtime().settings, bank), result)


def _bank_of(view: Any) -> BankSettings | None:
    if view is None or not getattr(view, "bank_id", None):
        return None
    try:
        return security.runtime().settings.bank(view.bank_id)
    except KeyError:
        return None


def _token_ok(token: str) -> None:
    if len(token) > 100:
        abort(404)


@bp.get("/<token>")
def link(token: str) -> ResponseReturnValue:
    _token_ok(token)
    rt = security.runtime()
    shown = phone.view(rt, token)
    bank = _bank_of(shown)
    response = _patron_page(
        "phone/link.html", bank, link=shown, token=token, result=None, words=None, code=""
    )
    response.status_code = 200 if shown.state is phone.LinkState.LIVE else 410
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
    before = phone.view(rt, token)
    result = phone.open_from_phone(rt, token, code, fee_acknowledged=fee)
    shown = phone.view(rt, token) if result.outcome is not phone.PhoneOutcome.OPENED else None
    bank = _bank_of(before)
    status = 200
    if result.outcome in (phone.PhoneOutcome.NOT_HERE, phone.PhoneOutcome.PICKUP_REFUSED):
        status = 422
    elif result.outcome is phone.PhoneOutcome.LINK_REFUSED:
        status = 410
    elif result.outcome is phone.PhoneOutcome.LOCKED_OUT:
        status = 429
    words = _result_words(result, _lang(bank), bank)
    response = _patron_page(
        "phone/link.html", bank, link=shown, token=token, result=result, words=words, code=code
    )
    response.status_code = status
    return response


@bp.get("/here/<bank_id>")
def here(bank_id: str) -> ResponseReturnValue:
    """Opened by scanning the kiosk's QR code: confirm before anything opens (no change on GET)."""
    bank = _bank(bank_id)
    rt = security.runtime()
    code = "".join(ch for ch in (request.args.get("code") or "")[:12] if ch.isdigit())
    token = request.cookies.get(TOKEN_COOKIE, "")
    shown = phone.view(rt, token) if token else None
    if shown is not None and shown.state is phone.LinkState.LIVE and shown.bank_id != bank.id:
        page = _patron_page(
            "phone/here.html", bank, link=None, message=("phone_other_bank", shown.bank_name)
        )
        page.status_code = 422
        return page
    if shown is None or shown.state is not phone.LinkState.LIVE:
        page = _patron_page("phone/here.html", bank, link=None, message=("phone_link_first", ""))
        page.status_code = 404
        return page
    return _patron_page("phone/here.html", bank, link=shown, token=token, code=code, message=None)


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
    return _patron_page("phone/presence.html", bank, code=code, seconds_left=left, qr=qr)


# --- day-use lockers from the phone -----------------------------------------------------------


def _dayuse_page(bank: BankSettings, result: str | None, ok: bool = False) -> Any:
    return _patron_page(
        "phone/dayuse.html",
        bank,
        form_endpoint="phone.dayuse_form",
        result=result,
        ok=ok,
        max_hours=security.runtime().settings.dayuse.max_hours,
    )


@bp.get("/dayuse/<bank_id>")
def dayuse_form(bank_id: str) -> ResponseReturnValue:
    return _dayuse_page(_bank(bank_id), None)


def _presence_words(bank: BankSettings, checked: Any) -> str:
    """Why the number from the locker screen was not accepted, in the patron's words."""

    rt = security.runtime()
    brand = brand_for(rt.settings, bank)
    lang = _lang(bank)
    found = checked.found
    if found is None:
        return kiosk_words.say(lang, "phone_dayuse_locked_out", brand)
    if found.presence is Presence.OTHER_BANK and found.other_bank:
        try:
            other = rt.settings.bank(found.other_bank).name
        except KeyError:
            other = found.other_bank
        return kiosk_words.say(lang, "phone_number_other_bank", brand, other=other, bank=bank.name)
    return kiosk_words.say(lang, "phone_not_here", brand)


@bp.post("/dayuse/<bank_id>")
def dayuse_post(bank_id: str) -> ResponseReturnValue:
    bank = _bank(bank_id)
    rt = security.runtime()
    card = (request.form.get("card") or "").strip()[:64]
    pin = (request.form.get("pin") or "")[:64]
    code = (request.form.get("code") or "")[:20]
    try:
        hours = int(request.form.get("hours") or "1")
    except ValueError:
        hours = 0
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
        page = _dayuse_page(bank, _presence_words(bank, checked))
        page.status_code = 429 if checked.verified.verdict is Verdict.LOCKED_OUT else 422
        return page
    if request.form.get("action") == "finish":
        result = dayuse.finish(rt, bank.id, card, pin, kiosk=client)
    else:
        result = dayuse.use(rt, bank.id, card, pin, hours=hours, via="phone", kiosk=client)
    ok = result.outcome in kiosk_words.DAYUSE_GRANTED
    brand = brand_for(rt.settings, bank)
    words = kiosk_words.dayuse_words(_lang(bank), brand, result, bank.timezone, rt.settings.dayuse)
    page = _dayuse_page(bank, words, ok)
    page.status_code = 200 if ok else 422
    return page


# --- staff: day-use overview and code re-issue (/staff/access) --------------------------------

staff_bp = Blueprint("access_staff", __name__, url_prefix="/staff/access")
security.protect_blueprint(staff_bp)


@staff_bp.get("/dayuse")
@security.require_role(Role.VIEWER)
def dayuse_overview() -> ResponseReturnValue:
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
    user = security.signed_in_user()
    assert user is not None
    dayuse.emptied(security.runtime(), reservation, actor=f"staff:{user.username}")
    return redirect(url_for("access_staff.dayuse_overview", done="Marked as emptied."))


# Staff pages are in English; the patron's outcomes are worded in bridge.web.kiosk.words.
STAFF_REISSUE_WORDS: dict[reissue.ReissueOutcome, str] = {
    reissue.ReissueOutcome.ISSUED: "Compartment {number}: A new message with a new code is on "
    "its way. The old code no longer works.",
    reissue.ReissueOutcome.NOTHING_WAITING: "Nothing is waiting in compartment {number}.",
    reissue.ReissueOutcome.STAFF_TOO_MANY: "Too many codes re-issued in the last hour. Try "
    "again later.",
    reissue.ReissueOutcome.TOO_MANY: "A new code was already sent to this patron several times "
    "today.",
    reissue.ReissueOutcome.DENIED: "Card or PIN not accepted.",
    reissue.ReissueOutcome.LOCKED_OUT: "Too many wrong attempts for this card; try again later.",
    reissue.ReissueOutcome.ILS_UNAVAILABLE: "The library system is not answering right now.",
    reissue.ReissueOutcome.RESEND_ANSWERED: "The message is sent again if anything waits.",
}


@staff_bp.post("/reissue")
@security.require_role(Role.STAFF)
def reissue_code() -> ResponseReturnValue:
    """From the status page: a new code for the patron whose items are in a compartment."""

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
    message = STAFF_REISSUE_WORDS[result.outcome].format(number=number)
    return render_template("phone/staff_reissue.html", message=message, ok=ok), (
        200 if ok else 429 if result.outcome is reissue.ReissueOutcome.STAFF_TOO_MANY else 409
    )


# --- lost or forgotten code (kiosk "Get a new code", also usable on a phone) -----------------


def _new_code_page(
    bank: BankSettings, result: str | None, ok: bool = False, code: str | None = None
) -> Any:
    return _patron_page(
        "phone/newcode.html", bank, form_endpoint="phone.new_code", result=result, ok=ok, code=code
    )


@bp.get("/newcode/<bank_id>")
def new_code(bank_id: str) -> ResponseReturnValue:
    return _new_code_page(_bank(bank_id), None)


@bp.post("/newcode/<bank_id>")
def new_code_post(bank_id: str) -> ResponseReturnValue:
    bank = _bank(bank_id)
    rt = security.runtime()
    lang = _lang(bank)
    brand = brand_for(rt.settings, bank)
    card = (request.form.get("card") or "").strip()[:64]
    pin = (request.form.get("pin") or "")[:64]
    if not card:
        page = _new_code_page(bank, kiosk_words.say(lang, "missing_fields", brand))
        page.status_code = 422
        return page
    if request.form.get("action") == "resend":
        # One answer whatever the card (it must not tell whether a card exists).
        reissue.resend_message(rt, bank.id, card, client=client_key())
        page = _new_code_page(bank, kiosk_words.say(lang, "newcode_resent", brand), True)
        return page
    result = reissue.reissue_with_card(rt, bank.id, card, pin, kiosk=client_key())
    ok = result.outcome is reissue.ReissueOutcome.ISSUED
    words = kiosk_words.newcode_words(lang, brand, result.outcome)
    page = _new_code_page(bank, words, ok, result.code if ok else None)
    page.status_code = 200 if ok else 422
    return page
