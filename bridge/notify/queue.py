"""Queuing a message: called by the flows inside their own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bridge.infra import outbox
from bridge.notify.kinds import SECRET_FACTS, MessageKind
from bridge.storage.tables.notifications import NotificationRow

OUTBOX_KIND = "notification"


def _plain(value: Any) -> Any:
    """Facts are stored as JSON: dates become ISO strings, tuples lists."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def queue_message(
    session: Session,
    kind: MessageKind,
    *,
    bank_id: str,
    patron: str,
    event_key: str,
    facts: Mapping[str, Any],
    now: datetime,
) -> str | None:
    """Records a message to send once the caller's transaction commits.

    Writes the notification row and its outbox row in ``session``'s transaction. A second call
    for the same ``(kind, event_key)`` does nothing and returns None; otherwise returns the
    outbox ref, which the caller hands to ``bridge.infra.outbox.dispatch(rt, "notification", ref)``
    after the commit (if it never does, the sweeper will).

    ``facts`` hold what the message needs (see ``kinds.KNOWN_FACTS``). ``code`` and
    ``qr_token`` are kept apart and blanked once the message is sent.

    Raises:
        ValueError: ``event_key`` or ``patron`` is empty.
    """
    if not event_key:
        raise ValueError("event_key is required (it is what keeps a message from going twice)")
    if not patron:
        raise ValueError("patron (the library card barcode) is required")
    kind = MessageKind(kind)
    plain = {k: _plain(v) for k, v in facts.items() if k not in SECRET_FACTS}
    secret = {k: _plain(v) for k, v in facts.items() if k in SECRET_FACTS and v}
    values = {
        "kind": kind.value,
        "event_key": event_key[:200],
        "bank_id": bank_id,
        "patron": patron,
        "facts": plain,
        "secrets": secret or None,
        "state": "pending",
        "channels_sent": "",
        "created_at": now,
    }
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent duplicate neither raises nor breaks the
    # caller's transaction (both SQLite and PostgreSQL speak it).
    stmt = _insert_ignoring_duplicates(session, values)
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is None:
        return None
    ref = str(new_id)
    outbox.add(session, OUTBOX_KIND, ref=ref, now=now)
    return ref


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    table = NotificationRow.__table__
    assert isinstance(table, Table)
    if dialect == "postgresql":
        return (
            pg_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["kind", "event_key"])
            .returning(table.c.id)
        )
    if dialect == "sqlite":
        return (
            sqlite_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["kind", "event_key"])
            .returning(table.c.id)
        )
    return insert(table).values(**values).returning(table.c.id)
