"""Kiosk devices on the staff side (docs/access.md, "At the kiosk").

- ``/staff/banks/<bank>/kiosk`` (administrators): enrol a kiosk. Either *this browser* becomes
  the kiosk (its token goes into an HTTP-only cookie and the administrator is signed out of
  that browser at once: a staff session must not stay behind on a public kiosk), or a token is
  made for a kiosk program and shown once.
- ``/staff/kiosks`` (staff): every enrolled kiosk; revoking one takes effect at its next
  request.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bridge.services.access import kiosks
from bridge.services.staff.accounts import Role
from bridge.web import security
from bridge.web.kiosk.identity import KIOSK_COOKIE, kiosk_allowed
from bridge.web.staff.loading import bank_or_404
from bridge.web.staff.pages import bp

COOKIE_DAYS = 400  # browsers cap cookie lifetimes at about 400 days


def _actor() -> str:
    user = security.signed_in_user()
    assert user is not None
    return f"staff:{user.username}"


@bp.get("/banks/<bank_id>/kiosk")
@security.require_role(Role.ADMIN)
def enrol_kiosk(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    return render_template(
        "staff/kiosk.html", bank=bank, enrolled=kiosk_allowed(bank.id), token=None, error=None
    )


@bp.post("/banks/<bank_id>/kiosk")
@security.require_role(Role.ADMIN)
def enrol_kiosk_post(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    name = (request.form.get("name") or "").strip()[:120]
    mode = request.form.get("mode", "browser")
    if mode not in ("browser", "program"):
        abort(400)
    if not name:
        error = "Give the kiosk a name staff will recognise, such as “Lobby screen”."
        page = render_template(
            "staff/kiosk.html",
            bank=bank,
            enrolled=kiosk_allowed(bank.id),
            token=None,
            error=error,
        )
        return page, 422
    device, token = kiosks.enrol(rt, bank.id, name, actor=_actor())
    if mode == "program":
        return render_template(
            "staff/kiosk.html", bank=bank, enrolled=False, token=token, device=device, error=None
        )
    # The kiosk is public: no staff session stays behind in its browser.
    security.end_session()
    response = make_response(redirect(url_for("kiosk.start", bank_id=bank.id)))
    response.set_cookie(
        KIOSK_COOKIE,
        token,
        max_age=COOKIE_DAYS * 24 * 3600,
        path="/",
        secure=rt.settings.web.secure_cookies,
        httponly=True,
        samesite="Strict",
    )
    return response


@bp.get("/kiosks")
@security.require_role(Role.STAFF)
def kiosk_list() -> ResponseReturnValue:
    rt = security.runtime()
    return render_template(
        "staff/kiosks.html",
        devices=kiosks.devices(rt),
        banks={b.id: b.name for b in rt.settings.banks},
    )


@bp.post("/kiosks/<int:device_id>/revoke")
@security.require_role(Role.STAFF)
def kiosk_revoke(device_id: int) -> ResponseReturnValue:
    if kiosks.revoke(security.runtime(), device_id, actor=_actor()):
        flash(f"Kiosk {device_id} is revoked; it opens nothing from now on.", "ok")
    else:
        flash(f"Kiosk {device_id} was already revoked or does not exist.", "error")
    return redirect(url_for("staff.kiosk_list"))
