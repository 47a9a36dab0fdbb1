"""Personal data leaves the database on schedule; what is still needed stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import Engine, event, select

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.services.retention import purge_now
from bridge.storage.db import session_factory, unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow
from tests.support.db import both_databases

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _rt(settings: Settings, engine: Engine, redis: Redis) -> Runtime:
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        redis=redis,
        clock=lambda: NOW,
    )


@both_databases
def test_links_older_than_the_retention_period_are_purged_and_newer_ones_kept(
    settings: Settings, db_engine: Engine, redis_conn: Redis
) -> None:
    rt = _rt(settings, db_engine, redis_conn)
    day = timedelta(hours=24)
    with unit_of_work(rt.sessions) as s:
        s.add(
            LoadRow(
                bank_id="main-lobby",
                compartment=1,
                item_barcode="old",
                size="S",
                state="picked_up",
                patron="23000000000001",
                patron_ref="p1",
                title="Old book",
                purge_after=NOW - timedelta(minutes=1),
            )
        )
        s.add(
            LoadRow(
                bank_id="main-lobby",
                compartment=2,
                item_barcode="waiting",
                size="S",
                state="loaded",
                patron="23000000000002",
                patron_ref="p2",
                title="Waiting book",
                purge_after=None,
            )
        )
        s.add(
            DepositRow(
                bank_id="main-lobby",
                compartment=13,
                item_barcode="ret-old",
                deposited_at=NOW - 2 * day,
                depositor="23000000000003",
                state="checked_in",
                ils_confirmed_at=NOW - day - timedelta(minutes=1),
            )
        )
        s.add(
            DepositRow(
                bank_id="main-lobby",
                compartment=13,
                item_barcode="ret-new",
                deposited_at=NOW - day,
                depositor="23000000000004",
                state="checked_in",
                ils_confirmed_at=NOW - timedelta(hours=2),
            )
        )
        s.add(
            DepositRow(
                bank_id="main-lobby",
                compartment=14,
                item_barcode="ret-wait",
                deposited_at=NOW - 5 * day,
                depositor="23000000000005",
                state="waiting_for_ils",
            )
        )
        s.add(
            NotificationRow(
                kind="ready_for_pickup",
                event_key="e1",
                bank_id="main-lobby",
                patron="23000000000001",
                secrets={"code": "123456"},
                state="sent",
                settled_at=NOW - 2 * day,
            )
        )
        s.add(AuditEventRow(at=NOW - timedelta(days=91), kind="door_closed"))
        s.add(AuditEventRow(at=NOW - timedelta(days=89), kind="door_closed"))
    report = purge_now(rt)
    assert report.load_links == 1 and report.deposit_links == 1 and report.audit_events == 1
    with rt.sessions() as s:
        loads = {r.item_barcode: r for r in s.scalars(select(LoadRow))}
        assert loads["old"].patron is None and loads["old"].title is None
        assert loads["waiting"].patron == "23000000000002"
        deposits = {r.item_barcode: r.depositor for r in s.scalars(select(DepositRow))}
        assert deposits == {
            "ret-old": None,
            "ret-new": "23000000000004",
            "ret-wait": "23000000000005",
        }
        note = s.scalars(select(NotificationRow)).one()
        assert note.patron is None and note.secrets is None
        assert [a.at for a in s.scalars(select(AuditEventRow))] == [NOW - timedelta(days=89)]


def test_finished_background_work_is_cleared_after_a_week(
    settings: Settings, sqlite_engine: Engine, redis_conn: Redis
) -> None:
    rt = _rt(settings, sqlite_engine, redis_conn)
    with unit_of_work(rt.sessions) as s:
        s.add(
            OutboxRow(
                kind="deposit_checkin", ref="1", state="done", done_at=NOW - timedelta(days=8)
            )
        )
        s.add(
            OutboxRow(
                kind="deposit_checkin", ref="2", state="done", done_at=NOW - timedelta(days=1)
            )
        )
        s.add(OutboxRow(kind="deposit_checkin", ref="3", state="pending"))
    assert purge_now(rt).outbox_rows == 1
    with rt.sessions() as s:
        assert sorted(r.ref for r in s.scalars(select(OutboxRow))) == ["2", "3"]


def test_ill_loans_that_never_close_lose_the_patron_after_the_audit_period(
    settings: Settings, sqlite_engine: Engine, redis_conn: Redis
) -> None:
    from bridge.storage.tables.ill import IllRequestRow

    rt = _rt(settings, sqlite_engine, redis_conn)
    common = dict(
        partner="p",
        bank_id="main-lobby",
        pickup_location="MAIN-LOCKER",
        item="i",
        action="Hold For Pickup",
        state="accepted",
        title="T",
    )
    with unit_of_work(rt.sessions) as s:
        s.add(
            IllRequestRow(
                request_id="old",
                ils_item="ill-old",
                patron="23000000000001",
                accepted_at=NOW - timedelta(days=91),
                **common,
            )
        )
        s.add(
            IllRequestRow(
                request_id="new",
                ils_item="ill-new",
                patron="23000000000002",
                accepted_at=NOW - timedelta(days=10),
                **common,
            )
        )
    assert purge_now(rt).ill_links == 1
    with rt.sessions() as s:
        rows = {r.request_id: r.patron for r in s.scalars(select(IllRequestRow))}
    assert rows == {"old": None, "new": "23000000000002"}


@both_databases
def test_old_audit_rows_are_deleted_in_bounded_batches_each_committed(
    settings: Settings, db_engine: Engine, redis_conn: Redis, monkeypatch: Any
) -> None:
    """A year-old backlog is deleted a batch at a time (short locks on a table every door event
    writes to); rows inside the retention period stay."""
    from sqlalchemy import insert

    from bridge.services import retention

    rt = _rt(settings, db_engine, redis_conn)
    old = NOW - timedelta(days=settings.retention.audit_days + 1)
    with unit_of_work(rt.sessions) as s:
        s.execute(
            insert(AuditEventRow),
            [{"at": old - timedelta(minutes=n), "kind": "door_closed"} for n in range(23)]
            + [{"at": NOW - timedelta(days=1), "kind": "door_opened"} for _ in range(4)],
        )
    monkeypatch.setattr(retention, "DELETE_BATCH", 10)
    deletes: list[int] = []
    commits: list[int] = []

    def after(conn: Any, clause: Any, multi: Any, params: Any, options: Any, result: Any) -> None:
        if str(clause).lstrip().upper().startswith("DELETE FROM AUDIT_EVENT"):
            deletes.append(result.rowcount)

    event.listen(db_engine, "after_execute", after)
    event.listen(db_engine, "commit", lambda conn: commits.append(len(deletes)))
    try:
        assert purge_now(rt).audit_events == 23
    finally:
        event.remove(db_engine, "after_execute", after)
    assert deletes == [10, 10, 3]
    # Each batch was committed before the next one started.
    assert [n for n in commits if n][:3] == [1, 2, 3]
    with rt.sessions() as s:
        assert sorted(e.kind for e in s.scalars(select(AuditEventRow))) == ["door_opened"] * 4


@both_databases
def test_finished_offline_loans_are_deleted_after_the_link_period_and_open_ones_kept(
    settings: Settings, db_engine: Engine, redis_conn: Redis, monkeypatch: Any
) -> None:
    """An offline loan the ILS recorded, or whose refusal staff handled, no longer ties the
    patron to the item after ``patron_item_link_hours``; one still to send, one refused and not
    yet handled, and one whose pickup has an item still on its way, stay."""
    from bridge.services import retention
    from bridge.services.offline_loans import resolve_refused
    from bridge.storage.tables.offline import OfflineLoanRow

    rt = _rt(settings, db_engine, redis_conn)
    link = timedelta(hours=settings.retention.patron_item_link_hours)
    old, recent = NOW - link - timedelta(minutes=1), NOW - link + timedelta(minutes=30)

    def loan(item: str, state: str, *, ref: str, at: datetime, **kw: Any) -> OfflineLoanRow:
        return OfflineLoanRow(
            bank_id="main-lobby",
            ils="koha",
            compartment=3,
            item_barcode=item,
            title="T",
            patron_ref=ref,
            via="code",
            picked_up_at=at,
            state=state,
            **kw,
        )

    picked = NOW - 3 * link
    with unit_of_work(rt.sessions) as s:
        s.add_all(
            [
                loan("rec-old-1", "recorded", ref="p1", at=picked, finished_at=old),
                loan("rec-old-2", "recorded", ref="p2", at=picked, finished_at=old),
                loan("rec-new", "recorded", ref="p3", at=picked, finished_at=recent),
                loan(
                    "ref-handled",
                    "refused",
                    ref="p4",
                    at=picked,
                    finished_at=old,
                    patron="23000000000004",
                ),
                loan(
                    "ref-open",
                    "refused",
                    ref="p5",
                    at=picked,
                    finished_at=old,
                    patron="23000000000005",
                ),
                loan("waiting", "waiting", ref="p6", at=picked, patron="23000000000006"),
                # One pickup of two items: the first recorded long ago, the second still to send.
                loan("pair-done", "recorded", ref="p7", at=picked, finished_at=old),
                loan("pair-open", "waiting", ref="p7", at=picked, patron="23000000000007"),
            ]
        )
    with rt.sessions() as s:
        handled = s.scalars(
            select(OfflineLoanRow.id).where(OfflineLoanRow.item_barcode == "ref-handled")
        ).one()
    staff_then = Runtime(
        settings=settings,
        engine=db_engine,
        sessions=rt.sessions,
        redis=redis_conn,
        clock=lambda: old,
    )
    resolve_refused(staff_then, handled, "staff@example.org", "lent again at the desk")

    monkeypatch.setattr(retention, "DELETE_BATCH", 2)
    deletes: list[int] = []

    def after(conn: Any, clause: Any, multi: Any, params: Any, options: Any, result: Any) -> None:
        if str(clause).lstrip().upper().startswith("DELETE FROM OFFLINE_LOAN"):
            deletes.append(result.rowcount)

    event.listen(db_engine, "after_execute", after)
    try:
        assert purge_now(rt).offline_loans == 3
    finally:
        event.remove(db_engine, "after_execute", after)
    assert deletes == [2, 1]  # in bounded batches, like the audit log
    with rt.sessions() as s:
        left = {r.item_barcode: r.state for r in s.scalars(select(OfflineLoanRow))}
    assert left == {
        "rec-new": "recorded",
        "ref-open": "refused",
        "waiting": "waiting",
        "pair-done": "recorded",
        "pair-open": "waiting",
    }
