"""The directory sign-in pages: ``/staff/directory/ldap`` and ``/staff/directory/oidc/...``.

A directory that is down: a clear message, an audit event, and local sign-in keeps working.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.staff.directory.ldap import ldap_sign_in
from bridge.services.staff.directory.oidc import (
    discovery,
    person_from,
    pkce,
    token_request,
    verify_id_token,
)
from bridge.services.staff.directory.people import MFA_METHODS, DirectoryDown
from bridge.storage.db import unit_of_work
from bridge.web import security
from bridge.web.directory.sessions import begin, recheck

log = logging.getLogger(__name__)
bp = Blueprint("directory", __name__, url_prefix="/staff/directory")
security.protect_blueprint(bp)

DOWN = (
    "The staff directory is not answering right now. Local accounts still work: use the "
    "usual sign-in form."
)


def init_app(app: Flask) -> None:
    security.init_app(app)
    app.register_blueprint(bp)

    @app.before_request
    def _recheck_directory_sessions() -> None:
        endpoint = request.endpoint or ""
        if endpoint.startswith(("staff.", "access_staff.")):
            recheck(security.runtime())

    @app.context_processor
    def _directory_links() -> dict[str, Any]:
        conf = security.runtime_of(app).settings.directory
        return {"directory_signin": {"ldap": conf.ldap is not None, "oidc": conf.oidc is not None}}


def _down(rt: Runtime, source: str, exc: Exception) -> ResponseReturnValue:
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "staff_directory_down",
            at=rt.clock(),
            actor=f"staff:{source}",
            during="sign-in",
            why=str(exc)[:200],
            client=request.remote_addr,
        )
    log.warning("staff directory (%s) unreachable at sign-in: %s", source, exc)
    return render_template("phone/directory_login.html", error=DOWN, source=source), 503


@bp.get("/ldap")
def ldap_form() -> ResponseReturnValue:
    return render_template("phone/directory_login.html", error=None, source="ldap")


@bp.post("/ldap")
def ldap_post() -> ResponseReturnValue:
    rt = security.runtime()
    conf = rt.settings.directory.ldap
    if conf is None:
        return redirect(url_for("staff.login"))
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    client = request.remote_addr or "unknown"
    with security.SignInGate(f"ldap:{username}", client) as gate:
        if gate.wait:
            error = "Too many failed sign-ins. Try again in a few minutes."
            return render_template("phone/directory_login.html", error=error, source="ldap"), 429
        try:
            person = ldap_sign_in(conf, username, password)
        except DirectoryDown as exc:
            gate.succeeded()  # nothing was judged: the attempt is given back
            return _down(rt, "ldap", exc)
        if person is None:
            gate.failed()
            with unit_of_work(rt.sessions) as s:
                audit(
                    s,
                    "staff_sign_in_failed",
                    at=rt.clock(),
                    actor="staff:ldap",  # the typed name may be a password typed in the wrong box
                    client=client,
                )
            error = "The user name or password is not right."
            return render_template("phone/directory_login.html", error=error, source="ldap"), 401
        gate.succeeded()
    if begin(rt, person, second_factor=False, refresh_token=None) is None:
        error = "Your directory account is not in a group that may use the locker pages."
        return render_template("phone/directory_login.html", error=error, source="ldap"), 403
    return redirect(url_for("staff.status"))


@bp.get("/oidc/start")
def oidc_start() -> ResponseReturnValue:
    rt = security.runtime()
    conf = rt.settings.directory.oidc
    if conf is None:
        return redirect(url_for("staff.login"))
    try:
        meta = discovery(rt, conf)
    except DirectoryDown as exc:
        return _down(rt, "oidc", exc)
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    session["oidc"] = {"state": state, "nonce": nonce, "verifier": verifier}
    params = {
        "response_type": "code",
        "client_id": conf.client_id,
        "redirect_uri": url_for("directory.oidc_callback", _external=True),
        "scope": conf.scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return redirect(f"{meta['authorization_endpoint']}?{urlencode(params)}")


@bp.get("/oidc/callback")
def oidc_callback() -> ResponseReturnValue:
    rt = security.runtime()
    conf = rt.settings.directory.oidc
    pending = session.pop("oidc", None)
    if conf is None or not isinstance(pending, dict):
        return redirect(url_for("staff.login"))
    refused = "The directory sign-in did not complete. Please try again."
    if request.args.get("state") != pending.get("state") or not request.args.get("code"):
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "staff_sign_in_failed",
                at=rt.clock(),
                actor="staff:oidc",
                reason=request.args.get("error") or "state",
                client=request.remote_addr,
            )
        return render_template("phone/directory_login.html", error=refused, source="oidc"), 400
    try:
        meta = discovery(rt, conf)
        body = token_request(
            conf,
            meta,
            {
                "grant_type": "authorization_code",
                "code": request.args["code"],
                "redirect_uri": url_for("directory.oidc_callback", _external=True),
                "code_verifier": pending["verifier"],
            },
        )
        claims = verify_id_token(conf, meta, str(body.get("id_token", "")), pending["nonce"])
    except DirectoryDown as exc:
        return _down(rt, "oidc", exc)
    except (PermissionError, KeyError) as exc:
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "staff_sign_in_failed",
                at=rt.clock(),
                actor="staff:oidc",
                reason=str(exc)[:200],
                client=request.remote_addr,
            )
        return render_template("phone/directory_login.html", error=refused, source="oidc"), 401
    person = person_from(conf, claims)
    amr = claims.get("amr") or []
    mfa = bool(MFA_METHODS & set(amr if isinstance(amr, list) else [amr]))
    if begin(rt, person, second_factor=mfa, refresh_token=body.get("refresh_token")) is None:
        error = "Your directory account is not in a group that may use the locker pages."
        return render_template("phone/directory_login.html", error=error, source="oidc"), 403
    return redirect(url_for("staff.status"))
