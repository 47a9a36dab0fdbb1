"""Queuing a message from a flow's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from bridge.notify import MessageKind, queue_message
from bridge.storage.db import session_factory, unit_of_work
from bridge.storage.tables.core import OutboxRow
from bridge.storage.tables.notifications import NotificationRow
from tests.support.db import both_databases

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def _queue(engine: Engine, event_key: str = "load-42") -> str | None:
    with unit_of_work(session_factory(engine)) as s:
        return queue_message(
            s,
            MessageKind.READY_FOR_PICKUP,
            bank_id="main-lobby",
            patron="23000000001",
            event_key=event_key,
            facts={
                "titles": ["Dune"],
                "doors": [3],
                "code": "482913",
                "qr_token": "tok",
                "expires": NOW.date(),
            },
            now=NOW,
        )


@both_databases
def test_a_queued_message_gets_a_notification_row_and_an_outbox_row(db_engine: Engine) -> None:
    ref = _queue(db_engine)
    assert ref is not None
    with unit_of_work(session_factory(db_engine)) as s:
        row = s.get(NotificationRow, int(ref))
        assert row is not None
        assert row.facts == {"titles": ["Dune"], "doors": [3], "expires": "2025-03-10"}
        assert row.secrets == {"code": "482913", "qr_token": "tok"}
        box = s.scalars(select(OutboxRow).where(OutboxRow.ref == ref)).one()
        assert (box.kind, box.state) == ("notification", "pending")


@both_databases
def test_queuing_the_same_event_twice_does_nothing_the_second_time(db_engine: Engine) -> None:
    assert _queue(db_engine) is not None
    assert _queue(db_engine) is None
    assert _queue(db_engine, "load-43") is not None
    with unit_of_work(session_factory(db_engine)) as s:
        assert len(s.scalars(select(NotificationRow)).all()) == 2
        assert len(s.scalars(select(OutboxRow)).all()) == 2
