"""Administrators manage staff accounts (``/staff/accounts``): disable or enable, change the
role, give a new second factor, see and end live sessions. Every change is audited and takes
effect at the account's next request (sessions re-read the account, :mod:`bridge.web.security`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bridge.services.banks import audit
from bridge.services.staff.accounts import ISSUER, Role, seal_totp_secret
from bridge.services.staff.changes import LiveSession, end_sessions, live_sessions
from bridge.storage.db import unit_of_work
from bridge.storage.tables.staff import StaffUserRow
from bridge.web import security
from bridge.web.staff.pages import bp


def _sessions() -> Iterator[LiveSession]:
    return live_sessions(security.runtime().redis)


def _actor() -> str:
    user = security.signed_in_user()
    assert user is not None
    return f"staff:{user.username}"


@bp.get("/accounts")
@security.require_role(Role.ADMIN)
def accounts() -> ResponseReturnValue:
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        rows = [
            (r.id, r.username, r.role, r.active, r.totp_secret is not None, r.last_login_at)
            for r in s.scalars(select(StaffUserRow).order_by(StaffUserRow.username))
        ]
    live: dict[int, list[LiveSession]] = {}
    for found in _sessions():
        live.setdefault(found.user_id, []).append(found)
    return render_template(
        "staff/accounts.html", rows=rows, live=live, roles=[r.value for r in Role], uri=None
    )


@bp.post("/accounts/<int:user_id>")
@security.require_role(Role.ADMIN)
def account_change(user_id: int) -> ResponseReturnValue:
    rt = security.runtime()
    action = request.form.get("action", "")
    me = security.signed_in_user()
    assert me is not None
    if user_id == me.id and action in ("disable", "role"):
        flash("You cannot disable your own account or change your own role.", "error")
        return redirect(url_for("staff.accounts"))
    uri = None
    with unit_of_work(rt.sessions) as s:
        row = s.get(StaffUserRow, user_id)
        if row is None:
            abort(404)
        detail: dict[str, object]
        if action in ("disable", "enable"):
            row.active = action == "enable"
            detail = {"active": row.active}
        elif action == "role":
            try:
                role = Role(request.form.get("role", ""))
            except ValueError:
                abort(400)
            if role is Role.ADMIN and row.totp_secret is None:
                flash("An administrator needs a second factor: give one first.", "error")
                return redirect(url_for("staff.accounts"))
            row.role = role.value
            detail = {"role": role.value}
        elif action == "new_totp":
            secret = pyotp.random_base32()
            row.totp_secret = seal_totp_secret(rt.settings, row.username, secret)
            row.totp_last_step = None
            uri = pyotp.TOTP(secret).provisioning_uri(name=row.username, issuer_name=ISSUER)
            detail = {"totp": "replaced"}
        elif action == "end_sessions":
            detail = {"sessions": "ended"}
        else:
            abort(400)
        username = row.username
        audit(
            s,
            "staff_account_changed",
            at=rt.clock(),
            actor=_actor(),
            account=username,
            change=action,
            detail=detail,
        )
    if action in ("end_sessions", "new_totp", "disable"):
        end_sessions(rt.redis, user_id)
    if uri:
        # Shown once, to be scanned by the account's owner now; never stored in the clear.
        return render_template(
            "staff/accounts.html", rows=None, live={}, roles=[], uri=uri, account=username
        )
    flash(f"{username}: done ({action.replace('_', ' ')}).", "ok")
    return redirect(url_for("staff.accounts"))
