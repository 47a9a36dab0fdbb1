"""Kiosk screens for access beyond the keypad (docs/access.md): the rotating presence code for
phone pickup, the PIN after a card reader read the card, day-use lockers, and a new pickup code.

**Which browser is the kiosk.** The presence code proves that a phone's owner stands at the
bank, so only the bank's own kiosk may show it; and a card read at the bank must be finished
with a PIN typed *at the bank*. Like every kiosk route, these need an enrolled kiosk device of
the bank (:mod:`bridge.web.kiosk.identity`, enrolled by an administrator at
``/staff/banks/<bank>/kiosk``); the blueprint checks that before any view runs.

Routes register on the kiosk blueprint (:mod:`bridge.web.kiosk.pages`);
:mod:`bridge.web.kiosk.views` imports this module so that they are registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import segno
from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from bridge.config import BankSettings
from bridge.runtime import Runtime
from bridge.services import dayuse
from bridge.services.access import readers, reissue
from bridge.services.access.readers import ReaderOutcome, ReaderResult
from bridge.services.dayuse import doors_of
from bridge.web import branding, security
from bridge.web.kiosk import words as kiosk_words
from bridge.web.kiosk.pages import (
    bank_or_404,
    bp,
    form_field,
    kiosk_key_of,
    language_of,
    render_page,
    say,
)
from bridge.web.kiosk.text import text
from bridge.web.phone import presence_target

if TYPE_CHECKING:
    from bridge.services.access.readers import ReaderResult

COOKIE_DAYS = 400  # browsers cap cookie lifetimes at about 400 days
_SHOWN = "lockerbridge:kiosk-reader-shown:{bank}"


def _until(at: datetime | None, bank: BankSettings) -> str:
    return at.astimezone(ZoneInfo(bank.timezone)).strftime("%H:%M") if at else ""


# --- presence code on the start screen --------------------------------------------------------


def presence(rt: Runtime, bank: BankSettings) -> dict[str, object]:
    """The presence number, its QR code (pointing at the phone page) and when it changes."""
    code, left, target = presence_target(rt, bank.id)
    qr = segno.make(target, error="m").svg_data_uri(scale=5)
    return {"code": code, "seconds_left": left, "qr": qr}


@bp.get("/<bank_id>/presence.json")
def presence_state(bank_id: str) -> ResponseReturnValue:
    """Fetched by the start screen of the bank's kiosk when the number changes, so the screen
    updates in place (a reload would take the focus away from a keyboard user)."""
    bank = bank_or_404(bank_id)
    shown = presence(security.runtime(), bank)
    code = str(shown["code"])
    return {
        **shown,
        "display": f"{code[:3]} {code[3:]}",
        "label": text(language_of(bank), "phone_number_label", digits=" ".join(code)),
    }


# --- card reader: PIN at the kiosk ------------------------------------------------------------


def _last_to_show(rt: Runtime, bank_id: str) -> ReaderResult | None:
    """The reader's last result, unless it is a card that waited for a PIN which is no longer
    wanted (the patron cancelled, or the wait ran out): nothing to show then."""

    last = readers.last_result(rt, bank_id)
    if last is None or last.outcome is readers.ReaderOutcome.NEEDS_PIN:
        return None
    return last


@bp.get("/<bank_id>/reader.json")
def reader_state(bank_id: str) -> ResponseReturnValue:
    """Polled by the start screen of the bank's kiosk: is a card waiting for its PIN, or is
    there a reader result the screen has not shown yet?"""

    bank = bank_or_404(bank_id)
    rt = security.runtime()
    if readers.waiting_for_pin(rt, bank.id):
        return {"state": "waiting_for_pin"}
    last = _last_to_show(rt, bank.id)
    if last is not None:
        seen = rt.redis.get(_SHOWN.format(bank=bank.id))
        if (seen.decode() if isinstance(seen, bytes) else seen) != last.shown_id:
            return {"state": "result"}
    return {"state": "idle"}


def _reader_result(bank: BankSettings, result: object) -> ResponseReturnValue:
    assert isinstance(result, ReaderResult)
    rt = security.runtime()
    rt.redis.set(_SHOWN.format(bank=bank.id), result.shown_id, ex=120)
    lang = language_of(bank)
    ok = result.outcome is ReaderOutcome.OPENED and bool(result.opened)
    words = kiosk_words.reader_words(lang, branding.brand_for(rt.settings, bank), result)
    return (
        render_page(
            "kiosk/result.html",
            bank,
            ok=ok,
            headline=words,
            opened=result.opened,
            note=None if ok else text(lang, "reader_again"),
            handling="take",
        ),
        200 if ok else 422,
    )


@bp.get("/<bank_id>/reader")
def reader_pin(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    if readers.waiting_for_pin(rt, bank.id):
        return render_page("kiosk/reader_pin.html", bank, error=None)
    last = _last_to_show(rt, bank.id)
    if last is None:
        return redirect(url_for("kiosk.start", bank_id=bank.id, lang=language_of(bank)))
    return _reader_result(bank, last)


@bp.post("/<bank_id>/reader")
def reader_pin_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    pin = form_field("pin")
    if not pin:
        return render_page(
            "kiosk/reader_pin.html", bank, error=text(language_of(bank), "missing_fields")
        ), 422
    result = readers.finish_with_pin(security.runtime(), bank.id, pin, kiosk=kiosk_key_of(bank.id))
    return _reader_result(bank, result)


@bp.post("/<bank_id>/reader/cancel")
def reader_cancel(bank_id: str) -> ResponseReturnValue:
    """ "Cancel" on the PIN prompt: the card stops waiting, so the start screen does not turn
    straight back to the prompt."""

    bank = bank_or_404(bank_id)
    readers.cancel_pin(security.runtime(), bank.id)
    return redirect(url_for("kiosk.start", bank_id=bank.id, lang=language_of(bank)))


# --- day-use lockers --------------------------------------------------------------------------


def _dayuse_page(bank: BankSettings, error: str | None, status: int = 200) -> ResponseReturnValue:
    rt = security.runtime()
    return (
        render_page(
            "kiosk/dayuse.html",
            bank,
            offered=bool(doors_of(rt, bank.id)),
            hours=range(1, rt.settings.dayuse.max_hours + 1),
            error=error,
        ),
        status,
    )


@bp.get("/<bank_id>/dayuse")
def dayuse_form(bank_id: str) -> ResponseReturnValue:
    return _dayuse_page(bank_or_404(bank_id), None)


@bp.post("/<bank_id>/dayuse")
def dayuse_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    lang = language_of(bank)
    rt = security.runtime()
    card, pin = form_field("card"), form_field("pin")
    if not (card and pin):
        return _dayuse_page(bank, text(lang, "missing_fields"), 422)
    kiosk = kiosk_key_of(bank.id)
    if request.form.get("action") == "finish":
        result = dayuse.finish(rt, bank.id, card, pin, kiosk=kiosk)
    else:
        try:
            hours = int(request.form.get("hours") or "1")
        except ValueError:
            hours = 0
        result = dayuse.use(rt, bank.id, card, pin, hours=hours, via="kiosk", kiosk=kiosk)
    ok = result.outcome in kiosk_words.DAYUSE_GRANTED
    brand = branding.brand_for(rt.settings, bank)
    words = kiosk_words.dayuse_words(lang, brand, result, bank.timezone, rt.settings.dayuse)
    return (
        render_page(
            "kiosk/result.html",
            bank,
            ok=ok,
            headline=words,
            opened=(result.compartment,) if ok and result.compartment else (),
            retry=url_for("kiosk.dayuse_form", bank_id=bank.id, lang=lang),
            handling="none",
        ),
        200 if ok else 422,
    )


# --- lost code: a new one, or the message again -----------------------------------------------


@bp.get("/<bank_id>/newcode")
def new_code(bank_id: str) -> ResponseReturnValue:
    # "Forgot your PIN?" has a screen of its own: one form and one keypad per screen.
    resend = request.args.get("resend") == "1"
    return render_page("kiosk/newcode.html", bank_or_404(bank_id), error=None, resend=resend)


@bp.post("/<bank_id>/newcode")
def new_code_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    lang = language_of(bank)
    rt = security.runtime()
    card, pin = form_field("card"), form_field("pin")
    resend = request.form.get("action") == "resend"
    if not card or (not resend and not pin):
        error = text(lang, "missing_fields")
        return render_page("kiosk/newcode.html", bank, error=error, resend=resend), 422
    if resend:
        # One answer whatever the card (security: it must not tell whether a card exists).
        reissue.resend_message(rt, bank.id, card, client=kiosk_key_of(bank.id))
        ok, words, code = True, say(bank, "newcode_resent"), None
    else:
        result = reissue.reissue_with_card(rt, bank.id, card, pin, kiosk=kiosk_key_of(bank.id))
        ok = result.outcome is reissue.ReissueOutcome.ISSUED
        brand = branding.brand_for(rt.settings, bank)
        words = kiosk_words.newcode_words(lang, brand, result.outcome)
        code = result.code if ok else None
    return (
        render_page(
            "kiosk/result.html",
            bank,
            ok=ok,
            headline=words,
            new_code=code,
            retry=url_for("kiosk.new_code", bank_id=bank.id, lang=lang),
        ),
        200 if ok else 422,
    )
