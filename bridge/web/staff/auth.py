"""Sign-in (password, then a TOTP code for admins), sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bridge.services import banks
from bridge.services.staff.accounts import (
    Role,
    account_exists,
    authenticate,
    get_user,
    verify_totp,
)
from bridge.storage.db import unit_of_work
from bridge.web import security
from bridge.web.staff.pages import bp


def _next_url() -> str:
    """Only a path on this site (no open redirect, ASVS 5.1.5)."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/staff"):
        return url_for("staff.status")
    return target


def _client() -> str:
    return request.remote_addr or "unknown"


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second(s)"
    return f"about {round(seconds / 60)} minute(s)"


@bp.get("/login")
def login() -> ResponseReturnValue:
    return render_template("staff/login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_post() -> ResponseReturnValue:
    rt = security.runtime()
    username = request.form.get("username", "")[:64]
    password = request.form.get("password", "")[:256]
    with security.SignInGate(username, _client()) as gate:
        if gate.wait:
            error = f"Too many failed sign-ins. Try again in {_wait_words(gate.wait)}."
            return render_template("staff/login.html", next=_next_url(), error=error), 429
        with unit_of_work(rt.sessions) as s:
            user = authenticate(s, username, password, now=rt.clock(), settings=rt.settings)
            # A failed sign-in names an account only if one has that name: a password typed
            # into the user name field is never kept.
            known = user is not None or account_exists(s, username)
            banks.audit(
                s,
                "staff_sign_in" if user else "staff_sign_in_failed",
                at=rt.clock(),
                actor=f"staff:{username.strip()[:64]}" if known else "staff:(unknown name)",
                client=_client(),
            )
        if user is None:
            gate.failed()
            # One message for unknown user and wrong password (no account enumeration).
            error = "The user name or password is not right."
            return render_template("staff/login.html", next=_next_url(), error=error), 401
        gate.succeeded()
    needs_code = user.role is Role.ADMIN
    security.start_session(user, second_factor=False)
    if needs_code:
        return redirect(url_for("staff.second_factor", next=_next_url()))
    return redirect(_next_url())


@bp.get("/login/code")
def second_factor() -> ResponseReturnValue:
    if security.current_session() is None:
        return redirect(url_for("staff.login"))
    return render_template("staff/second_factor.html", next=_next_url(), error=None)


@bp.post("/login/code")
def second_factor_post() -> ResponseReturnValue:
    rt = security.runtime()
    current = security.current_session()
    if current is None:
        return redirect(url_for("staff.login"))
    username = current.user.username
    with security.SignInGate(username, _client()) as gate:
        if gate.wait:
            error = "Too many wrong codes. Sign in again later."
            security.end_session()
            return render_template("staff/login.html", next="", error=error), 429
        with unit_of_work(rt.sessions) as s:
            ok = verify_totp(
                s, current.user.id, request.form.get("code", "")[:12], settings=rt.settings
            )
            user = get_user(s, current.user.id)
        if not ok or user is None:
            gate.failed()
            error = "That code is not right or was already used. Wait for the next code."
            return render_template("staff/second_factor.html", next=_next_url(), error=error), 401
        gate.succeeded()
    security.start_session(user, second_factor=True)
    return redirect(_next_url())


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    security.end_session()
    return redirect(url_for("staff.login"))
