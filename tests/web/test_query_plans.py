"""Every query the staff pages run can use an index on the tables that grow with time.

A consortium keeps a year of audit events and deposits for hundreds of banks: a page query that
reads such a table from end to end gets slower every day. The real pages are requested (signed
in, through the test client) against PostgreSQL with a little of every kind of row; every
SELECT they sent is then explained with sequential scans disabled. PostgreSQL still plans a
``Seq Scan`` when no index can serve a query, so one on a growing table means a missing index.
Compartments and banks are left out: their rows are the doors configured, not a history.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, text

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.services.staff.accounts import Role, add_user
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow
from bridge.web.app import create_app
from tests.web.conftest import PASSWORD, Account, sign_in, web_config

pytestmark = pytest.mark.postgres

GROWING = ("audit_event", "deposit", "notification", "outbox", "ill_request", "locker_load")
PAGES = [
    "/staff/",
    "/staff/?q=east",
    "/staff/banks/main-lobby",
    "/staff/fragments/grid/main-lobby",
    "/staff/fragments/health",
    "/staff/work",
    "/staff/work?bank=east-station",
    "/staff/banks/main-lobby/3",
    "/staff/audit",
    "/staff/audit?bank=main-lobby",
    "/staff/audit?kind=door_closed",
    "/staff/audit?from=2026-01-01&to=2026-01-31",
    "/staff/audit.csv?bank=east-station",
    "/staff/charts",
    "/staff/charts?bank=main-lobby&days=30",
    "/staff/compartments.json",
]


def _seed(engine: Engine) -> None:
    """A few thousand rows: enough for the planner to see tables, not a year of them."""
    now = datetime.now(UTC)
    banks = ("main-lobby", "east-station")
    kinds = ("door_opened", "door_closed", "compartment_state", "deposit.recorded", "staff_unlock")
    with engine.begin() as conn:
        conn.execute(
            insert(AuditEventRow),
            [
                {
                    "at": now - timedelta(minutes=7 * n),
                    "kind": kinds[n % len(kinds)],
                    "bank_id": banks[n % 2],
                    "compartment": n % 12 + 1,
                    "detail": {"to": "loaded" if n % 3 else "picked_up"},
                }
                for n in range(3000)
            ],
        )
        states = ("checked_in", "checked_in", "checked_in", "needs_staff", "waiting_for_ils")
        conn.execute(
            insert(DepositRow),
            [
                {
                    "bank_id": banks[n % 2],
                    "compartment": 13,
                    "item_barcode": f"39{n:08d}",
                    "deposited_at": now - timedelta(hours=n),
                    "state": states[n % len(states)],
                }
                for n in range(1500)
            ],
        )
        conn.execute(
            insert(NotificationRow),
            [
                {
                    "kind": "ready_for_pickup",
                    "event_key": f"e{n}",
                    "bank_id": banks[n % 2],
                    "state": "failed" if n % 50 == 0 else "sent",
                    "facts": {},
                    "channels_sent": "email",
                }
                for n in range(1500)
            ],
        )
        conn.execute(
            insert(OutboxRow),
            [{"kind": "deposit_checkin", "ref": str(n), "state": "done"} for n in range(1500)],
        )
        conn.execute(text("ANALYZE"))


@pytest.fixture
def pg_client(tmp_path: Path, pg_engine: Engine, redis_conn: Any) -> Iterator[Any]:
    settings = load_settings(None, **web_config(tmp_path))
    rt = Runtime.over(settings, pg_engine, redis_conn)
    sync_banks(rt)
    _seed(pg_engine)
    with unit_of_work(rt.sessions) as s:
        add_user(s, "staff-1", PASSWORD, Role.STAFF, totp=True, settings=settings)
    app = create_app(settings, rt)
    app.config["TESTING"] = True
    client = app.test_client()
    sign_in(client, Account("staff-1", PASSWORD, Role.STAFF, None))
    yield client


def _seq_scans(plan: str) -> list[str]:
    return [t for t in re.findall(r"Seq Scan on (\w+)", plan) if t in GROWING]


def test_every_staff_page_query_can_use_an_index(pg_client: Any, pg_engine: Engine) -> None:
    sent: list[tuple[str, Any, str]] = []
    page = ""

    def record(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("SELECT", "WITH")):
            sent.append((statement, params, page))

    event.listen(pg_engine, "before_cursor_execute", record)
    try:
        for page in PAGES:
            resp = pg_client.get(page)
            assert resp.status_code == 200, (page, resp.status_code)
            resp.get_data()  # the CSV streams its rows while being read
    finally:
        event.remove(pg_engine, "before_cursor_execute", record)
    assert len({p for _, _, p in sent}) == len(PAGES)
    growing = [s for s in sent if any(re.search(rf"\b{t}\b", s[0]) for t in GROWING)]
    assert len(growing) >= 15, len(growing)  # the pages did read the growing tables
    bad = []
    with pg_engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        for statement, params, page in growing:
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params)
            )
            if _seq_scans(plan):
                bad.append(f"{page}: {statement}\n{plan}")
        conn.rollback()
    assert not bad, "\n\n".join(bad)


def test_a_growing_table_without_an_index_is_caught(pg_engine: Engine) -> None:
    """The check itself can fail: a filter on a column without an index shows a Seq Scan."""
    with pg_engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(text("EXPLAIN SELECT id FROM deposit WHERE attempts > 3"))
        )
        conn.rollback()
    assert _seq_scans(plan) == ["deposit"]
