"""Database at scale: a generated year of history for 500 banks, the retention job, page times.

Two installations side by side (SQLite, like ``bench.consortium``: 40 compartments a bank),
one with 5 banks and one with 500, each given a generated year of history: per bank and day,
``EVENTS_PER_DAY`` audit events (door opened/closed, state changes, deposits) and one deposit
checked in by the ILS. The staff pages that read the history are timed on both (the status
page, the audit log newest first, one bank's audit log, one bank's door page with its recent
events), then the retention job (``bridge.services.retention.purge_now``, 90 days of audit
log) runs on the 500-bank installation, timing each of its delete batches (the time it holds
the audit log's write lock), and the pages are timed again.

Targets (issue 24): with the history in place, page p95 at 500 banks within 2x of the same
page at 5 banks; retention deletes in batches each shorter than one second.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.figures import Figure, percentile
from bench.status_page import status_client, time_pages

PER_BANK = 40
EVENTS_PER_DAY = 4
REPRODUCE = "python -m bench --only database"
PAGE_TARGET = 2.0
BATCH_TARGET_MS = 1000.0
PAGES = {
    "status page": "/staff/",
    "audit log": "/staff/audit",
    "one bank's audit log": "/staff/audit?bank=bank-001",
    "door page": "/staff/banks/bank-001/3",
}
KINDS = ("door_opened", "door_closed", "compartment_state", "deposit.recorded")


def generate_history(rt: Any, banks: int, days: int) -> int:
    """Writes ``days`` days of audit events and deposits for ``banks`` banks; returns the
    number of audit rows. Bulk inserts of a day at a time, oldest first (as they would arrive)."""
    from sqlalchemy import insert

    from bridge.storage.tables.core import AuditEventRow
    from bridge.storage.tables.returns import DepositRow

    now = datetime.now(UTC)
    rows = 0
    for day in range(days, 0, -1):
        start = now - timedelta(days=day)
        audit = []
        deposits = []
        for b in range(banks):
            bank_id = f"bank-{b:03d}"
            for n in range(EVENTS_PER_DAY):
                audit.append(
                    {
                        "at": start + timedelta(minutes=97 * n + b % 60),
                        "kind": KINDS[n % len(KINDS)],
                        "bank_id": bank_id,
                        "compartment": (day + n) % PER_BANK + 1,
                        "actor": "system",
                        "detail": {"to": "loaded" if n % 2 else "picked_up"},
                    }
                )
            deposits.append(
                {
                    "bank_id": bank_id,
                    "compartment": PER_BANK,
                    "item_barcode": f"39{day:04d}{b:04d}",
                    "deposited_at": start,
                    "state": "checked_in",
                    "ils_confirmed_at": start + timedelta(minutes=1),
                }
            )
        with rt.engine.begin() as conn:
            conn.execute(insert(AuditEventRow), audit)
            conn.execute(insert(DepositRow), deposits)
        rows += len(audit)
    return rows


def _runtime(client: Any) -> Any:
    return client.application.extensions["lockerbridge"]


def _purge_timed(rt: Any) -> tuple[Any, list[float], float]:
    """Runs the retention job; returns its report, each audit delete's milliseconds, seconds."""
    from sqlalchemy import event

    from bridge.services.retention import purge_now

    batches: list[float] = []
    started: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM AUDIT_EVENT"):
            started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM AUDIT_EVENT"):
            batches.append((time.perf_counter() - started.pop()) * 1000)

    event.listen(rt.engine, "before_cursor_execute", before)
    event.listen(rt.engine, "after_cursor_execute", after)
    start = time.perf_counter()
    try:
        report = purge_now(rt)
    finally:
        event.remove(rt.engine, "before_cursor_execute", before)
        event.remove(rt.engine, "after_cursor_execute", after)
    return report, batches, time.perf_counter() - start


def run(quick: bool) -> list[Figure]:
    sizes = (2, 5) if quick else (5, 500)
    days = 30 if quick else 365
    repeat = 3 if quick else 40
    small, big = sizes
    figures: list[Figure] = []
    with contextlib.ExitStack() as stack:
        clients = {n: stack.enter_context(status_client(n * PER_BANK, PER_BANK)) for n in sizes}
        generated = {n: generate_history(_runtime(c), n, days) for n, c in clients.items()}
        before = time_pages(clients, PAGES, repeat)
        report, batches, seconds = _purge_timed(_runtime(clients[big]))
        after = time_pages({big: clients[big]}, PAGES, repeat)
    figures.append(
        Figure(
            name=f"generated history: audit rows at {big:,} banks ({days} days)",
            value=generated[big],
            unit="rows",
            baseline=f"{generated[small]:,} rows at {small} banks",
            reproduce=REPRODUCE,
        )
    )
    for name in PAGES:
        p_small = percentile(before[name, small], 95)
        p_big = percentile(before[name, big], 95)
        ratio = p_big / p_small
        figures.append(
            Figure(
                name=f"{name} p95 with {days} days of history, {big:,} / {small} banks",
                value=ratio,
                unit="x",
                target=f"<= {PAGE_TARGET:g}x",
                passed=ratio <= PAGE_TARGET,
                baseline=f"{p_small:.1f} ms at {small} banks, same run ({p_big:.1f} ms at {big:,})",
                reproduce=REPRODUCE,
                samples=[float(small), p_small, float(big), p_big],
                plot="growth",
                samples_unit="p95 ms",
                x_label="banks",
            )
        )
        figures.append(
            Figure(
                name=f"{name} p95 at {big:,} banks after retention",
                value=percentile(after[name, big], 95),
                unit="ms",
                baseline=f"{p_big:.1f} ms before retention, same run",
                reproduce=REPRODUCE,
            )
        )
    longest = max(batches) if batches else 0.0
    figures.append(
        Figure(
            name=f"retention: longest audit delete batch at {big:,} banks",
            value=longest,
            unit="ms",
            target=f"<= {BATCH_TARGET_MS:g} ms",
            passed=longest <= BATCH_TARGET_MS,
            baseline=f"{report.audit_events:,} rows deleted in {len(batches)} batches, "
            f"{seconds:.1f} s in all",
            reproduce=REPRODUCE,
            samples=batches,
            plot="distribution" if len(batches) > 1 else None,
        )
    )
    return figures
