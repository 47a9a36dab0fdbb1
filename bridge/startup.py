"""Start-up checks shared by every role (gunicorn's web processes, workers, the scheduler).

A process starts only when it can do its work; otherwise it stops before it binds a port,
registers a worker or enqueues anything, with one line naming what is wrong and where:

1. the configuration loads (a missing secret file names the variable and the path);
2. the database answers;
3. the schema is the one this code expects (a database behind the code — a missing or
   half-applied upgrade — would fail later in the middle of a patron's transaction);
4. Redis answers;
5. then, and only then, the bank and compartment rows are brought in line with the
   configuration (``bridge.services.bank_setup.sync_banks``), under a PostgreSQL advisory lock so
   that many processes starting together do it once each, one after the other.

:func:`start_failure` turns the exceptions of these steps into that one line.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from bridge.config import ConfigError, Settings
from bridge.errors import Fatal
from bridge.infra.redis_conn import RedisUnavailable, connect
from bridge.runtime import Runtime
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from bridge.storage.db import DatabaseUnavailable, check_connection, make_engine
from bridge.storage.migrate import pending

log = logging.getLogger(__name__)

# Not the migration lock's id: a start-up may wait for a migration but never hold it up.
_SYNC_LOCK_ID = 0x4C42_5359
# The exit status gunicorn's arbiter reads as "the app failed to load": it stops the master
# instead of forking the worker again and again.
GUNICORN_APP_LOAD_ERROR = 4


class StartupError(Fatal):
    """The process must not start; ``str()`` is one line for the operator."""


STARTUP_ERRORS = (ConfigError, DatabaseUnavailable, RedisUnavailable, Fatal)


def check_schema(engine: Engine) -> None:
    """Raises DatabaseUnavailable, or StartupError when the schema is behind the code."""
    check_connection(engine)
    if pending(engine):
        raise StartupError(
            "the database schema is not up to date (missing or half-applied upgrade): "
            "run `lockerbridge db upgrade`"
        )


# Words the example configuration's secrets are made of. A secret containing one was copied
# from the example (or typed as a stand-in) and is public: codes, phone presence numbers and
# sessions made with it could be forged by anyone who read the example.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "replace-me", "example-secret")


def placeholder_secrets(settings: Settings) -> list[str]:
    """The settings whose secret is a placeholder (empty: none)."""
    found = []
    candidates = [("web.secret_key", settings.web.secret_key)]
    candidates += [
        (f"security.code_keys[{i}]", k) for i, k in enumerate(settings.security.code_keys)
    ]
    for name in ("totp_key", "presence_key"):
        value = getattr(settings.security, name)
        if value:
            candidates.append((f"security.{name}", value))
    for name, value in candidates:
        if any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
            found.append(name)
    return found


def refuse_placeholder_secrets(settings: Settings) -> None:
    """Raises StartupError when a secret is still the example's placeholder (the demo writes
    random ones, so it never trips this)."""
    found = placeholder_secrets(settings)
    if found:
        raise StartupError(
            f"{', '.join(found)} still hold a placeholder from the example: set long random "
            "secrets (e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )


def check_settings(settings: Settings) -> None:
    """Database, schema and Redis, with connections closed afterwards (gunicorn's master
    runs this before it forks, and children must not inherit its sockets)."""
    refuse_placeholder_secrets(settings)
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    finally:
        engine.dispose()
    if settings.redis_url != "embedded":
        connect(settings.redis_url, settings.redis_sentinels).close()


def prepare(rt: Runtime, role: str) -> None:
    """The checks above on a built runtime, then the bank rows synced.

    Raises DatabaseUnavailable, RedisUnavailable or StartupError.
    """
    refuse_placeholder_secrets(rt.settings)
    check_schema(rt.engine)
    try:
        rt.redis.ping()
    except Exception as exc:
        raise RedisUnavailable(f"Redis is unreachable: {exc}") from exc
    sync_banks_once(rt)

    assemble(rt)  # controller events (webhook, MQTT) reach the services from here on
    log.info("%s: start-up checks passed", role)


def sync_banks_once(rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Released at the end of this block, after sync_banks committed on its own connection.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SYNC_LOCK_ID})
        try:
            counts = sync_banks(rt)
        except IntegrityError:
            # SQLite has no advisory lock: another process inserted the same rows first.
            counts = sync_banks(rt)
    if any(counts.values()):
        log.info("banks synced with the configuration: %s", counts)


def start_failure(exc: BaseException) -> str | None:
    """The one line to print for a start-up failure, or None for an unexpected error."""
    if isinstance(exc, ConfigError):
        return "configuration error: " + "; ".join(exc.problems)
    if isinstance(exc, STARTUP_ERRORS):
        return f"error: {exc}"
    return None


def exit_with(line: str, status: int) -> NoReturn:
    print(f"lockerbridge: {line}", file=sys.stderr, flush=True)
    raise SystemExit(status)
