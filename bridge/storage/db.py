"""Engines, sessions and the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bridge.infra import crashpoints


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message says which and why."""


def normalise_url(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# PostgreSQL ends a session that sits this long inside a transaction without sending anything.
# Our transactions never wait on anything outside the database (the ILS and the doors are
# talked to between transactions), so only an orphan gets there: a connection whose process was
# killed while a forked child (rq's scheduler) still holds a copy of its socket, so the server
# never sees it close. Without this its row locks would stop every worker for good.
IDLE_TRANSACTION_SECONDS = 30


def make_engine(
    url: str, *, idle_transaction_seconds: int = IDLE_TRANSACTION_SECONDS, **kwargs: Any
) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        kwargs.setdefault("pool_pre_ping", True)
        parsed = make_url(url)
        # Server settings travel in the startup packet ("options"), merged with any the URL
        # already carries (a search_path, say; connect_args win over the URL's own), so they cost
        # no round trip.
        options = " ".join(
            o
            for o in (
                f"-c idle_in_transaction_session_timeout={idle_transaction_seconds * 1000}",
                str(parsed.query.get("options", "")),
            )
            if o
        )
        kwargs.setdefault("connect_args", {"connect_timeout": 5, "options": options})
    # Bound values (card numbers, code hashes) stay out of error messages and logs.
    kwargs.setdefault("hide_parameters", True)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets the web process read while a worker writes; FKs are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted rows (blanked card numbers, spent codes) are overwritten, not left in
            # free pages of the file.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

    return engine


def check_connection(engine: Engine) -> None:
    """Raises DatabaseUnavailable with one readable line."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"database {engine.url.render_as_string(hide_password=True)} is unreachable: {reason}"
        ) from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], label: str | None = None) -> Iterator[Session]:
    """One transaction per use case: commit on success, roll back on any error.

    Each one is a commit point (``bridge.infra.crashpoints``): ``label`` names it, by default the
    module and function that opened it."""
    if crashpoints.ACTIVE and label is None:
        label = crashpoints.label_of_caller(2)
    session = factory()
    try:
        yield session
        session.commit()
        crashpoints.reached(label)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
