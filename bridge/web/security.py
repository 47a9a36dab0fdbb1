"""Web security shared by the staff and kiosk pages (OWASP ASVS level 2 in spirit).

- Security headers on every response (ASVS 14.4): a CSP with no ``unsafe-inline`` (the pages
  load only their own script and style files), HSTS, ``frame-ancestors 'none'``, nosniff,
  a strict referrer policy.
- CSRF tokens (Flask-WTF) checked on every POST of the blueprints that call
  :func:`protect_blueprint`; other blueprints (the JSON API, NCIP) authenticate differently.
- Staff sessions held server-side in Redis (ASVS 3.3): the cookie carries only a random id, so
  signing out or an expired session really ends it. Idle and absolute time-outs come from
  ``web.session_idle_minutes`` and ``web.session_absolute_hours``.
- Sign-in limits per account and per client address, counted in Redis before any password
  is checked (:class:`SignInGate`); sessions re-read the account on every request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect
from redis import Redis

from bridge.runtime import Runtime
from bridge.services.access.attempts import Attempt, Budget, InFlight, OverBudget, reserve
from bridge.services.staff.accounts import Role, StaffUser, get_user
from bridge.storage.db import unit_of_work

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

SESSION_KEY = "lockerbridge:staff-session:{sid}"
# Polling requests say so, and do not count as activity for the idle time-out: a status page
# left open on a screen must still time out.
POLL_HEADER = "X-Lockerbridge-Poll"

# Sign-in limits (see SignInGate): growing delays after two free failures, and a ceiling of
# 10 failures per 15 minutes per account and 20 per 10 minutes per client address.
FREE_FAILURES, MAX_DELAY = 2, 300
ACCOUNT_FAILURES, ACCOUNT_WINDOW = 10, 15 * 60
ADDRESS_FAILURES, ADDRESS_WINDOW = 20, 10 * 60

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["lockerbridge"]
    return rt


def init_app(app: Flask) -> None:
    """Installs headers and CSRF once per app; the staff and kiosk modules both call it."""
    if app.extensions.get("lockerbridge_security"):
        return
    app.extensions["lockerbridge_security"] = True
    settings = runtime_of(app).settings
    # Only blueprints that ask for it are checked (see protect_blueprint).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", settings.web.session_absolute_hours * 3600)
    app.config["SESSION_COOKIE_NAME"] = "lockerbridge_session"
    csrf.init_app(app)
    app.after_request(_add_headers)


def runtime_of(app: Flask) -> Runtime:
    rt: Runtime = app.extensions["lockerbridge"]
    return rt


def _add_headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint and request.endpoint.split(".")[0] in ("staff", "kiosk"):
        # Pages with patron or staff data must not be kept by browsers or proxies.
        response.headers["Cache-Control"] = "no-store"
    return response


def protect_blueprint(bp: Blueprint) -> None:
    """Every POST/PUT/PATCH/DELETE to ``bp`` needs a valid CSRF token."""

    @bp.before_request
    def _check_csrf() -> None:
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            csrf.protect()


# --- staff sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSession:
    sid: str
    user: StaffUser
    started_at: float
    second_factor: bool  # True once a TOTP code was given at sign-in


def _key(sid: str) -> str:
    return SESSION_KEY.format(sid=sid)


def start_session(user: StaffUser, *, second_factor: bool) -> StaffSession:
    """A fresh session id on every sign-in step (no session fixation, ASVS 3.2.1)."""
    rt = runtime()
    old = session.get("sid")
    if old:
        rt.redis.delete(_key(old))
    session.clear()
    sid = secrets.token_urlsafe(32)
    now = time.time()
    rt.redis.hset(
        _key(sid),
        mapping={
            "user_id": user.id,
            "username": user.username,
            "role": user.role.value,
            "has_totp": int(user.has_totp),
            "started_at": now,
            "second_factor": int(second_factor),
        },
    )
    rt.redis.expire(_key(sid), rt.settings.web.session_idle_minutes * 60)
    session["sid"] = sid
    session.permanent = True
    return StaffSession(sid, user, now, second_factor)


def end_session() -> None:
    sid = session.pop("sid", None)
    if sid:
        runtime().redis.delete(_key(sid))
    session.clear()


def current_session() -> StaffSession | None:
    """The signed-in staff session of this request, or None (expired, signed out, none)."""
    if "staff_session" in g:
        found: StaffSession | None = g.staff_session
        return found
    g.staff_session = None
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    rt = runtime()
    redis: Redis = rt.redis
    data = {_text(k): _text(v) for k, v in redis.hgetall(_key(sid)).items()}
    if not data:
        return None
    started = float(data["started_at"])
    if time.time() - started > rt.settings.web.session_absolute_hours * 3600:
        redis.delete(_key(sid))
        return None
    if request.headers.get(POLL_HEADER) != "1":
        redis.expire(_key(sid), rt.settings.web.session_idle_minutes * 60)
    # The account as it is now, not as it was at sign-in: deactivating an account or changing
    # its role takes effect at this very request, in every web process.
    with unit_of_work(rt.sessions) as s:
        user = get_user(s, int(data["user_id"]))
    if user is None:
        redis.delete(_key(sid))
        return None
    g.staff_session = StaffSession(sid, user, started, data["second_factor"] == "1")
    return g.staff_session


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def signed_in_user() -> StaffUser | None:
    """The user, if fully signed in (admins: with the second factor given)."""
    s = current_session()
    if s is None:
        return None
    if s.user.role is Role.ADMIN and not s.second_factor:
        return None
    return s.user


def require_role(role: Role) -> Callable[[F], F]:
    """Signed in with at least ``role``; else to the sign-in page (or 401 for polling)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = signed_in_user()
            if user is None:
                if request.headers.get(POLL_HEADER) == "1" or request.method != "GET":
                    abort(401)
                return redirect(url_for("staff.login", next=request.full_path))
            if not user.role.at_least(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


# --- throttling -------------------------------------------------------------------------------


class SignInGate:
    """One sign-in attempt (password or TOTP code) behind the account's and the address's
    limits, all counted before anything is verified:

    - one verification at a time per account (a second one at the same moment is refused);
    - growing delays per account: the first ``FREE_FAILURES`` failures cost nothing, each
      further one makes the account wait twice as long as the one before (2 s, 4 s ... at
      most ``MAX_DELAY``), so nobody can lock a colleague out for long, yet guessing is slow;
    - a ceiling, atomic across all web processes: ``ACCOUNT_FAILURES`` failures per
      ``ACCOUNT_WINDOW`` per account and ``ADDRESS_FAILURES`` per ``ADDRESS_WINDOW`` per
      client address; a success ends the account's run.

    ``wait`` is the seconds to wait when the attempt may not go ahead (0: go ahead).
    """

    def __init__(self, username: str, address: str) -> None:
        name = username.strip().lower()[:64]
        self._redis: Redis = runtime().redis
        self._delay_key = f"lockerbridge:signin-delay:{name}"
        self._budgets = (
            Budget(f"signin-account:{name}", ACCOUNT_FAILURES, ACCOUNT_WINDOW, True),
            Budget(f"signin-address:{address}", ADDRESS_FAILURES, ADDRESS_WINDOW),
        )
        self._flight = InFlight(self._redis, f"signin:{name}", seconds=30)
        self._attempt: Attempt | None = None
        self.wait = 0

    def __enter__(self) -> SignInGate:
        if not self._flight.__enter__().held:
            self.wait = 1
            return self
        delay_ms = int(self._redis.pttl(self._delay_key))
        if delay_ms > 0:
            self.wait = max(1, -(-delay_ms // 1000))
            return self
        rt = runtime()
        now = rt.clock()
        try:
            self._attempt = reserve(self._redis, now, *self._budgets)
        except OverBudget as exc:
            self.wait = max(1, int((exc.until - now).total_seconds()))
        return self

    def failed(self) -> None:
        assert self._attempt is not None
        run = self._attempt.counts.get(self._budgets[0].key, 1)
        if run > FREE_FAILURES:
            delay = min(MAX_DELAY, 2 ** (run - FREE_FAILURES))
            self._redis.set(self._delay_key, "1", ex=delay)

    def succeeded(self) -> None:
        assert self._attempt is not None
        self._attempt.refund(success=True)
        self._redis.delete(self._delay_key)

    def __exit__(self, *exc: object) -> None:
        self._flight.__exit__(*exc)
