"""The typed code and QR token of a pending message are sealed in the database: what the
database (a backup, the SQLite file and its WAL) holds never contains them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from bridge.notify import MessageKind, queue_message
from bridge.storage.db import session_factory, unit_of_work
from bridge.storage.sealed import SealedKeyMissing, register_keys, unseal
from bridge.storage.tables.notifications import NotificationRow
from tests.support.db import both_databases

KEY = "sealing-test-code-key-0123456789abcdef"


@both_databases
def test_a_pending_messages_code_and_qr_token_are_sealed_at_rest(db_engine: Engine) -> None:
    register_keys([KEY])
    with unit_of_work(session_factory(db_engine)) as s:
        queue_message(
            s,
            MessageKind.READY_FOR_PICKUP,
            bank_id="main-lobby",
            patron="21000001",
            event_key="seal-1",
            facts={"code": "482913", "qr_token": "tok-9f8e7d"},
            now=datetime.now(UTC),
        )
    with db_engine.connect() as conn:
        stored = conn.execute(text("SELECT secrets FROM notification")).scalar_one()
    assert "482913" not in stored and "tok-9f8e7d" not in stored and stored.startswith("v1:")
    # The sender, with the configured key, reads them as they were.
    with unit_of_work(session_factory(db_engine)) as s:
        row = s.scalars(select(NotificationRow)).one()
        assert row.secrets == {"code": "482913", "qr_token": "tok-9f8e7d"}
    # Without the key (another installation, a stolen backup) they do not open.
    data = stored.split(":", 2)[2]
    with pytest.raises(SealedKeyMissing):
        unseal(f"v1:{'0' * 12}:{data}")
    assert b"482913" in unseal(stored)



@both_databases
def test_any_runtime_seals_with_its_own_first_code_key(db_engine: Engine, settings: Any) -> None:
    """However a runtime is built (``Runtime(...)`` as well as ``Runtime.over``), the messages
    queued through it are sealed with its own configuration's first code key."""
    from bridge.runtime import Runtime

    def queued_through(code_key: str, event_key: str) -> str:
        security = settings.security.model_copy(update={"code_keys": [code_key]})
        rt = Runtime(
            settings=settings.model_copy(update={"security": security}),
            engine=db_engine,
            sessions=session_factory(db_engine),
            redis=None,  # type: ignore[arg-type]  # not needed to queue a message
        )
        with unit_of_work(rt.sessions) as s:
            queue_message(
                s,
                MessageKind.READY_FOR_PICKUP,
                bank_id="main-lobby",
                patron="21000002",
                event_key=event_key,
                facts={"code": "551177"},
                now=datetime.now(UTC),
            )
            row = s.scalars(select(NotificationRow).where(NotificationRow.event_key == event_key))
            row_id = row.one().id
        with db_engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT secrets FROM notification WHERE id = :id"), {"id": row_id}
                ).scalar_one()
            )

    first = queued_through("first-installation-key-0123456789abcdef", "seal-a")
    second = queued_through("second-installation-key-0123456789abcdef", "seal-b")
    assert first.split(":")[1] != second.split(":")[1]  # each sealed under its own key id
    assert unseal(first) == unseal(second) == b'{"code":"551177"}'
