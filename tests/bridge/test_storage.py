"""The schema migrates and works the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bridge.storage.db import (
    DatabaseUnavailable,
    check_connection,
    make_engine,
    session_factory,
    unit_of_work,
)
from bridge.storage.migrate import pending, upgrade
from bridge.storage.tables.core import AuditEventRow, BankRow, CompartmentRow, OutboxRow
from tests.support.db import both_databases


@both_databases
def test_migrations_bring_a_blank_database_to_the_newest_schema(db_engine: Engine) -> None:
    assert not pending(db_engine)
    upgrade(db_engine)  # running it again changes nothing
    assert not pending(db_engine)


@both_databases
def test_times_come_back_as_the_same_instant_in_utc(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    at = datetime(2026, 11, 25, 3, 0, tzinfo=timezone(timedelta(hours=-5)))
    with unit_of_work(sessions) as s:
        s.add(AuditEventRow(at=at, kind="deposit_recorded", bank_id="main-lobby"))
    with unit_of_work(sessions) as s:
        row = s.scalars(select(AuditEventRow)).one()
    assert row.at == at and row.at.tzinfo is not None and row.at.utcoffset() == timedelta(0)


@both_databases
def test_a_naive_time_is_refused_before_it_reaches_the_database(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    with pytest.raises(Exception, match="naive datetime"), unit_of_work(sessions) as s:
        s.add(AuditEventRow(at=datetime(2026, 1, 1), kind="x"))
        s.flush()


@both_databases
def test_a_door_number_is_unique_within_a_bank(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    with unit_of_work(sessions) as s:
        s.add(BankRow(id="b1", name="B1", branch="B1", ils="i"))
        s.add(
            CompartmentRow(
                bank_id="b1", number=1, size="M", purpose="pickup", height_cm=100, state="free"
            )
        )
    with pytest.raises(IntegrityError):
        with unit_of_work(sessions) as s:
            s.add(
                CompartmentRow(
                    bank_id="b1", number=1, size="S", purpose="pickup", height_cm=90, state="free"
                )
            )


@both_databases
def test_a_failed_unit_of_work_leaves_nothing_behind(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        s.add(OutboxRow(kind="deposit_checkin", ref="1"))
        s.flush()
        raise RuntimeError("crash between the two writes")
    with unit_of_work(sessions) as s:
        assert s.scalars(select(OutboxRow)).all() == []


@both_databases
def test_the_outbox_takes_one_row_per_piece_of_work(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    with unit_of_work(sessions) as s:
        s.add(OutboxRow(kind="deposit_checkin", ref="42", next_attempt_at=datetime.now(UTC)))
    with pytest.raises(IntegrityError), unit_of_work(sessions) as s:
        s.add(OutboxRow(kind="deposit_checkin", ref="42"))


def test_an_unreachable_database_is_one_readable_line() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable) as err:
        check_connection(engine)
    assert "127.0.0.1:1" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.postgres
def test_an_orphaned_transaction_is_ended_so_its_row_locks_cannot_stop_the_workers(
    pg_engine: Engine,
) -> None:
    """A worker killed mid-transaction whose socket lives on in a forked child never closes
    its session; PostgreSQL must end it so the other workers get the row. (On SQLite a killed
    process's lock dies with it.)"""
    from sqlalchemy import text, update

    db_engine = pg_engine

    with unit_of_work(session_factory(db_engine)) as s:
        row = OutboxRow(kind="deposit_checkin", ref="1", state="pending")
        s.add(row)
    orphan_engine = make_engine(
        db_engine.url.render_as_string(hide_password=False), idle_transaction_seconds=1
    )
    orphan = orphan_engine.connect()
    try:
        orphan.execute(update(OutboxRow).values(state="leased"))  # row locked, never committed
        with db_engine.connect() as worker:
            worker.execute(text("SET lock_timeout = '15s'"))  # a hang fails the test, not CI
            took = worker.execute(
                update(OutboxRow).where(OutboxRow.state == "pending").values(state="leased")
            )
            worker.commit()
        assert took.rowcount == 1  # the orphan was ended and its change rolled back
        with pytest.raises(Exception, match="idle-in-transaction|terminat|closed"):
            orphan.execute(text("SELECT 1"))
    finally:
        orphan.invalidate()
        orphan_engine.dispose()


@both_databases
def test_a_blank_database_is_pending_and_the_heads_match_alembics(
    db_engine: Engine, tmp_path: Any
) -> None:
    from alembic.script import ScriptDirectory

    from bridge.storage.migrate import alembic_config, code_heads

    script = ScriptDirectory.from_config(alembic_config(str(db_engine.url)))
    assert code_heads() == set(script.get_heads())
    blank = make_engine(f"sqlite:///{tmp_path}/blank.db")
    try:
        assert pending(blank)
    finally:
        blank.dispose()


def test_a_web_process_checks_the_schema_without_loading_alembic(tmp_path: Any) -> None:
    """Alembic stays out of long-running processes (about 11 MiB each); only migrating needs it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from bridge.storage.db import make_engine\n"
        "from bridge.storage.migrate import pending\n"
        "import bridge.web.app, bridge.entrypoints.serve, bridge.startup\n"
        f"engine = make_engine('sqlite:///{tmp_path}/web.db')\n"
        "print(pending(engine), any(m.split('.')[0] in ('alembic', 'mako') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "False"], done.stderr
