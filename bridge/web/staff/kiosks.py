"""Staff make a browser the kiosk of a bank (``/staff/banks/<bank>/kiosk``): the browser gets
the bank's key from ``access.kiosk_keys`` in an HTTP-only cookie, so its start screen shows the
presence code and takes the PIN after a card read (:mod:`bridge.web.kiosk_access`). The
staff member is signed out of that browser at once: a staff session must not stay behind on a
public kiosk."""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from bridge.services.banks import audit
from bridge.staff_users import Role
from bridge.storage.db import unit_of_work
from bridge.web import security
from bridge.web.kiosk_access import COOKIE_DAYS, is_kiosk
from bridge.web.phone import KIOSK_COOKIE
from bridge.web.staff import bp
from bridge.web.staff.loading import bank_or_404


@bp.get("/banks/<bank_id>/kiosk")
@security.require_role(Role.STAFF)
def enrol_kiosk(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    configured = bool(security.runtime().settings.access.kiosk_keys.get(bank.id))
    return render_template(
        "staff/kiosk.html", bank=bank, configured=configured, enrolled=is_kiosk(bank.id)
    )


@bp.post("/banks/<bank_id>/kiosk")
@security.require_role(Role.STAFF)
def enrol_kiosk_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    key = rt.settings.access.kiosk_keys.get(bank.id)
    if not key:
        abort(409)
    user = security.signed_in_user()
    assert user is not None
    with unit_of_work(rt.sessions) as s:
        audit(s, "kiosk_enrolled", at=rt.clock(), bank_id=bank.id, actor=f"staff:{user.username}")
    # The kiosk is public: no staff session stays behind in its browser.
    security.end_session()
    response = make_response(redirect(url_for("kiosk.start", bank_id=bank.id)))
    response.set_cookie(
        KIOSK_COOKIE,
        key,
        max_age=COOKIE_DAYS * 24 * 3600,
        path="/",
        secure=rt.settings.web.secure_cookies,
        httponly=True,
        samesite="Strict",
    )
    return response
