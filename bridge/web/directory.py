"""Staff sign-in against the library's directory: LDAP and OpenID Connect, besides local accounts.

- LDAP (``[directory.ldap]``, the ``ldap3`` package): the person's DN comes from
  ``user_dn_template`` or a search as ``bind_dn``; a bind with the password proves it; the
  groups whose ``group_filter`` matches the DN give the role (``[directory.roles]``, highest
  wins). Page: ``/staff/directory/ldap``.
- OpenID Connect (``[directory.oidc]``): authorization code flow with PKCE (RFC 7636, S256),
  ``state`` and ``nonce``; the ID token is verified (RS256/ES256) against the provider's JWKS,
  issuer and audience. Groups come from ``groups_claim``. Pages: ``/staff/directory/oidc/...``.

A directory person gets a shadow account ``ldap:<name>`` / ``oidc:<name>`` in ``staff_user``
(no usable password, so it can never sign in locally) and an ordinary staff session, marked as
coming from the directory. On a session refresh, at most every ``recheck_minutes``, the person
is looked up again (LDAP search as ``bind_dn``; OIDC refresh-token grant): removed from the
directory or from every mapped group ends the session at once; a changed group changes the
role. Admin rights need a second factor: an OIDC provider saying so in ``amr`` (``mfa``,
``otp``, ``hwk``); otherwise a directory admin gets the staff role.

A directory that is down: a clear message, an audit event, and local sign-in keeps working.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bridge.config import DirectorySettings, LdapSettings, OidcSettings
from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.staff.accounts import Role, StaffUser
from bridge.storage.db import unit_of_work
from bridge.storage.tables.staff import StaffUserRow
from bridge.web import security

log = logging.getLogger(__name__)
bp = Blueprint("directory", __name__, url_prefix="/staff/directory")
security.protect_blueprint(bp)

MFA_METHODS = frozenset({"mfa", "otp", "hwk", "swk", "sc"})  # RFC 8176 values
_ORDER = [Role.VIEWER, Role.STAFF, Role.ADMIN]
DOWN = (
    "The staff directory is not answering right now. Local accounts still work: use the "
    "usual sign-in form."
)


class DirectoryDown(Exception):
    """The directory could not be reached or answered nonsense: try local sign-in."""


@dataclass(frozen=True)
class DirectoryPerson:
    source: str  # "ldap" or "oidc"
    username: str
    groups: tuple[str, ...]


def role_for(conf: DirectorySettings, groups: tuple[str, ...]) -> Role | None:
    """The highest role any of ``groups`` maps to (by name or full DN), None: no access."""
    found: list[Role] = []
    for group in groups:
        short = group.split(",")[0].split("=")[-1]
        for name in (group, short):
            if name in conf.roles:
                found.append(Role(conf.roles[name]))
    return max(found, key=_ORDER.index) if found else None


# --- LDAP ------------------------------------------------------------------------------------


def _ldap_server(conf: LdapSettings) -> Any:
    import ldap3

    tls = None
    if conf.ca_file or conf.url.startswith("ldaps://") or conf.start_tls:
        import ssl

        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED, ca_certs_file=str(conf.ca_file) if conf.ca_file else None
        )
    return ldap3.Server(conf.url, connect_timeout=conf.timeout_seconds, tls=tls)


def _ldap_connection(conf: LdapSettings, dn: str | None, password: str | None) -> Any:
    """A bound connection; raises DirectoryDown, or ``ldap3`` bind errors for bad credentials."""
    import ldap3
    from ldap3.core.exceptions import LDAPBindError, LDAPException

    try:
        conn = ldap3.Connection(
            _ldap_server(conf),
            user=dn,
            password=password,
            receive_timeout=max(1, int(conf.timeout_seconds)),  # ldap3 packs it as an int
            raise_exceptions=False,
        )
        if conf.start_tls:
            conn.open()
            conn.start_tls()
        if not conn.bind():
            raise LDAPBindError("invalid credentials")
        return conn
    except LDAPBindError:
        raise
    except (LDAPException, OSError) as exc:
        raise DirectoryDown(type(exc).__name__) from exc


def _ldap_find(conf: LdapSettings, conn: Any, username: str) -> str | None:
    from ldap3.utils.conv import escape_filter_chars

    if conf.user_dn_template and not conf.user_base:
        return conf.user_dn_template.format(username=escape_filter_chars(username))
    conn.search(
        conf.user_base,
        conf.user_filter.format(username=escape_filter_chars(username)),
        attributes=[],
    )
    return str(conn.entries[0].entry_dn) if len(conn.entries) == 1 else None


def _ldap_groups(conf: LdapSettings, conn: Any, dn: str) -> tuple[str, ...]:
    from ldap3.utils.conv import escape_filter_chars

    conn.search(
        conf.group_base, conf.group_filter.format(dn=escape_filter_chars(dn)), attributes=["cn"]
    )
    return tuple(str(e.entry_dn) for e in conn.entries)


def ldap_sign_in(conf: LdapSettings, username: str, password: str) -> DirectoryPerson | None:
    """The person if the password binds, else None. Raises DirectoryDown."""
    from ldap3.core.exceptions import LDAPBindError, LDAPException

    if not username or not password:  # an empty password is an anonymous bind: never accept
        return None
    try:
        finder = _ldap_connection(conf, conf.bind_dn, conf.bind_password)
        dn = _ldap_find(conf, finder, username)
        if dn is None:
            return None
        try:
            person = _ldap_connection(conf, dn, password)
        except LDAPBindError:
            return None
        groups = _ldap_groups(conf, finder if conf.bind_dn else person, dn)
        person.unbind()
        finder.unbind()
        return DirectoryPerson("ldap", username, groups)
    except LDAPBindError as exc:  # the service account itself was refused
        raise DirectoryDown("service bind refused") from exc
    except LDAPException as exc:
        raise DirectoryDown(type(exc).__name__) from exc


def ldap_lookup(conf: LdapSettings, username: str) -> DirectoryPerson | None:
    """Re-check without the password (as ``bind_dn`` or anonymously). Raises DirectoryDown."""
    from ldap3.core.exceptions import LDAPBindError, LDAPException

    try:
        conn = _ldap_connection(conf, conf.bind_dn, conf.bind_password)
        dn = _ldap_find(conf, conn, username)
        if dn is None or not conn.search(dn, "(objectClass=*)", attributes=[]):
            return None
        groups = _ldap_groups(conf, conn, dn)
        conn.unbind()
        return DirectoryPerson("ldap", username, groups)
    except (LDAPBindError, LDAPException) as exc:
        raise DirectoryDown(type(exc).__name__) from exc


# --- OpenID Connect ----------------------------------------------------------------------------


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    # Imported on use: without OpenID Connect the web process never loads requests and urllib3
    # (about 4 MiB resident).
    import requests

    try:
        resp = requests.get(url, timeout=timeout)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data
    except (requests.RequestException, ValueError) as exc:
        raise DirectoryDown(f"{url}: {type(exc).__name__}") from exc


def discovery(rt: Runtime, conf: OidcSettings) -> dict[str, Any]:
    """The provider's metadata, cached in Redis for 10 minutes."""
    import json

    key = f"lockerbridge:oidc-discovery:{conf.issuer}"
    cached = rt.redis.get(key)
    if cached:
        found: dict[str, Any] = json.loads(cached)
        return found
    meta = _get_json(
        conf.issuer.rstrip("/") + "/.well-known/openid-configuration", conf.timeout_seconds
    )
    if meta.get("issuer") != conf.issuer:  # OIDC Discovery 1.0 section 4.3
        raise DirectoryDown("discovery document names another issuer")
    rt.redis.set(key, json.dumps(meta), ex=600)
    return meta


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _token_request(
    conf: OidcSettings, meta: dict[str, Any], data: dict[str, str]
) -> dict[str, Any]:
    import requests  # on use, as in _get_json

    auth = (conf.client_id, conf.client_secret) if conf.client_secret else None
    if auth is None:
        data = {**data, "client_id": conf.client_id}
    try:
        resp = requests.post(
            meta["token_endpoint"], data=data, auth=auth, timeout=conf.timeout_seconds
        )
    except requests.RequestException as exc:
        raise DirectoryDown(type(exc).__name__) from exc
    if resp.status_code >= 500:
        raise DirectoryDown(f"token endpoint answered {resp.status_code}")
    body: dict[str, Any] = resp.json() if resp.content else {}
    if resp.status_code != 200:
        raise PermissionError(body.get("error", f"HTTP {resp.status_code}"))
    return body


def verify_id_token(
    conf: OidcSettings, meta: dict[str, Any], id_token: str, nonce: str | None
) -> dict[str, Any]:
    """Claims of a valid ID token; raises PermissionError (invalid) or DirectoryDown (JWKS)."""
    import jwt

    try:
        key = jwt.PyJWKClient(meta["jwks_uri"], timeout=int(conf.timeout_seconds) or 1)
        signing = key.get_signing_key_from_jwt(id_token)
    except jwt.PyJWKClientConnectionError as exc:
        raise DirectoryDown("JWKS unreachable") from exc
    except jwt.PyJWTError as exc:
        raise PermissionError(f"ID token: {exc}") from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            signing.key,
            algorithms=["RS256", "ES256"],
            audience=conf.client_id,
            issuer=conf.issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=30,
        )
    except jwt.PyJWTError as exc:
        raise PermissionError(f"ID token: {exc}") from exc
    if nonce is not None and claims.get("nonce") != nonce:
        raise PermissionError("ID token: nonce does not match")
    return claims


def _person_from(conf: OidcSettings, claims: dict[str, Any]) -> DirectoryPerson:
    groups = claims.get(conf.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    name = str(claims.get(conf.username_claim) or claims["sub"])
    return DirectoryPerson("oidc", name, tuple(str(g) for g in groups))


# --- sessions ---------------------------------------------------------------------------------


def _shadow_user(rt: Runtime, person: DirectoryPerson, role: Role) -> StaffUser:
    username = f"{person.source}:{person.username}"[:64]
    with unit_of_work(rt.sessions) as s:
        row = s.scalar(select(StaffUserRow).where(StaffUserRow.username == username))
        if row is None:
            # "!" is no argon2 hash: local sign-in can never match it.
            row = StaffUserRow(
                username=username,
                password_hash="!directory",  # noqa: S106
                role=role.value,
            )
            s.add(row)
        row.role, row.active, row.last_login_at = role.value, True, rt.clock()
        s.flush()
        return StaffUser(row.id, username, role, False)


def _begin(
    rt: Runtime, person: DirectoryPerson, *, second_factor: bool, refresh_token: str | None
) -> Role | None:
    conf = rt.settings.directory
    role = role_for(conf, person.groups)
    if role is Role.ADMIN and not second_factor:
        role = Role.STAFF  # admin rights need a second factor the directory vouches for
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "staff_sign_in" if role else "staff_sign_in_refused",
            at=rt.clock(),
            actor=f"staff:{person.source}:{person.username}"[:120],
            via=person.source,
            role=role.value if role else None,
            reason=None if role else "no mapped group",
            client=request.remote_addr,
        )
    if role is None:
        return None
    user = _shadow_user(rt, person, role)
    started = security.start_session(user, second_factor=second_factor)
    fields: dict[str, str | float] = {
        "directory": person.source,
        "directory_user": person.username,
        "checked_at": time.time(),
    }
    if refresh_token:
        fields["refresh_token"] = refresh_token
    rt.redis.hset(security.SESSION_KEY.format(sid=started.sid), mapping=fields)  # type: ignore[arg-type]
    return role


def recheck(rt: Runtime) -> None:
    """Before each staff request: re-check a directory session when it is due."""
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    key = security.SESSION_KEY.format(sid=sid)
    raw: dict[bytes, bytes] = rt.redis.hgetall(key)  # type: ignore[assignment]
    data = {k.decode(): v.decode() for k, v in raw.items()}
    source = data.get("directory")
    if not source:
        return
    conf = rt.settings.directory
    if time.time() - float(data.get("checked_at", 0)) < conf.recheck_minutes * 60:
        return
    username = data.get("directory_user", "")
    actor = f"staff:{source}:{username}"[:120]
    try:
        person: DirectoryPerson | None
        if source == "ldap" and conf.ldap is not None:
            person = ldap_lookup(conf.ldap, username)
        elif source == "oidc" and conf.oidc is not None and data.get("refresh_token"):
            meta = discovery(rt, conf.oidc)
            try:
                body = _token_request(
                    conf.oidc,
                    meta,
                    {"grant_type": "refresh_token", "refresh_token": data["refresh_token"]},
                )
                claims = verify_id_token(conf.oidc, meta, body["id_token"], None)
                person = _person_from(conf.oidc, claims)
                if body.get("refresh_token"):
                    rt.redis.hset(key, "refresh_token", body["refresh_token"])
            except (PermissionError, KeyError):
                person = None
        else:
            person = None  # the directory is no longer configured
    except DirectoryDown as exc:
        # Keep the session (the absolute time-out still ends it); say so in the audit log.
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "staff_directory_down",
                at=rt.clock(),
                actor=actor,
                during="recheck",
                why=str(exc)[:200],
            )
        return
    role = role_for(conf, person.groups) if person else None
    if role is Role.ADMIN and data.get("second_factor") != "1":
        role = Role.STAFF
    if role is None:
        rt.redis.delete(key)
        session.clear()
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "staff_directory_revoked",
                at=rt.clock(),
                actor=actor,
                reason="removed from the directory or its groups",
            )
        return
    rt.redis.hset(key, mapping={"checked_at": time.time(), "role": role.value})


# --- pages ------------------------------------------------------------------------------------


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
    if _begin(rt, person, second_factor=False, refresh_token=None) is None:
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
    verifier, challenge = _pkce()
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
        body = _token_request(
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
    person = _person_from(conf, claims)
    amr = claims.get("amr") or []
    mfa = bool(MFA_METHODS & set(amr if isinstance(amr, list) else [amr]))
    if _begin(rt, person, second_factor=mfa, refresh_token=body.get("refresh_token")) is None:
        error = "Your directory account is not in a group that may use the locker pages."
        return render_template("phone/directory_login.html", error=error, source="oidc"), 403
    return redirect(url_for("staff.status"))
