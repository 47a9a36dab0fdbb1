"""Runs Alembic migrations programmatically, once, under a lock.

Every web and worker process checks at start-up that the schema is current (:func:`pending`).
That check reads the revision ids from the migration files and the ``alembic_version`` table
directly: importing Alembic (and Mako) for it cost each long-running process about 11 MiB of
resident memory. Alembic is imported only to migrate.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it only has to be the same in every process of an installation.
_PG_LOCK_ID = 0x4C4F434B


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # only migrating needs Alembic (see the module docstring)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Brings the schema to the newest revision; safe to call from many processes at once."""
    from alembic import command  # only migrating needs Alembic (see the module docstring)

    url = engine.url.render_as_string(hide_password=False)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several web/worker processes may start together: one migrates, the others wait.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_ASSIGNMENT = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)


def code_heads() -> set[str]:
    """The newest revision(s) of the migration files: those no other revision follows."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        values = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" not in values:
            continue
        revisions.add(ast.literal_eval(values["revision"]))
        down = ast.literal_eval(values.get("down_revision", "None"))
        parents.update([down] if isinstance(down, str) else (down or ()))
    return revisions - parents


def database_heads(engine: Engine) -> set[str]:
    """The revision(s) the database is at; empty when it was never migrated."""
    try:
        with engine.connect() as conn:
            return {str(v) for v in conn.scalars(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError as exc:
        if "alembic_version" in str(exc.orig):  # no such table: a blank database
            return set()
        raise


def pending(engine: Engine) -> bool:
    """True when the database is behind the code (a half-applied or missing migration)."""
    return database_heads(engine) != code_heads()
