"""Reports for the people who run the lockers (``/staff/reports``, ``/staff/reports.csv``):
per bank and day, pickups, returns, holds not collected in time and the median wait from
loading to pickup; and the doors out of service now.

Pickups, holds not collected and waits are counted from the audit log (state changes as
:func:`bridge.services.banks.audit_events` writes them), so they reach back as far as
``retention.audit_days``; returns from the deposits. Days are the
bank's own calendar days (its ``timezone``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.returns import DepositRow
from bridge.web import security
from bridge.web.staff.auditlog import is_loaded, is_pickup, state_after
from bridge.web.staff.pages import bp

MAX_DAYS = 92
LONGEST_SHELF = timedelta(days=61)  # loads this long before the first day still count for dwell


@dataclass
class DayRow:
    day: date
    bank_id: str
    bank_name: str
    pickups: int = 0
    returns: int = 0
    uncollected: int = 0
    dwell: list[float] = field(default_factory=list)  # hours, loaded -> picked up

    @property
    def median_dwell_hours(self) -> float | None:
        return round(median(self.dwell), 1) if self.dwell else None


@dataclass(frozen=True)
class OutOfService:
    bank_name: str
    bank_id: str
    compartment: int
    since: datetime
    fault: str | None


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    rows: list[DayRow]  # by day, then bank name
    out_of_service: list[OutOfService]

    def totals(self, bank_id: str) -> tuple[int, int, int]:
        mine = [r for r in self.rows if r.bank_id == bank_id]
        return (
            sum(r.pickups for r in mine),
            sum(r.returns for r in mine),
            sum(r.uncollected for r in mine),
        )


def build(session: Session, settings: Settings, first: date, last: date) -> Report:
    zones = {b.id: ZoneInfo(b.timezone) for b in settings.banks}
    names = {b.id: b.name for b in settings.banks}
    rows: dict[tuple[date, str], DayRow] = {}
    for n in range((last - first).days + 1):
        for b in sorted(settings.banks, key=lambda b: b.name):
            day = first + timedelta(days=n)
            rows[(day, b.id)] = DayRow(day, b.id, b.name)
    # Widest window any bank's zone needs, then each event goes to its bank's local day.
    start = datetime.combine(first, time(), UTC) - timedelta(days=1) - LONGEST_SHELF
    end = datetime.combine(last, time(), UTC) + timedelta(days=2)
    loaded_at: dict[tuple[str | None, int | None], datetime] = {}
    q = (
        select(AuditEventRow)
        .where(AuditEventRow.at >= start, AuditEventRow.at < end)
        .order_by(AuditEventRow.at, AuditEventRow.id)
    )
    for e in session.scalars(q.execution_options(yield_per=1000)):
        if e.bank_id not in zones:
            continue
        key = (e.bank_id, e.compartment)
        if is_loaded(e):
            loaded_at[key] = e.at
            continue
        row = rows.get((e.at.astimezone(zones[e.bank_id]).date(), e.bank_id))
        if is_pickup(e):
            since = loaded_at.pop(key, None)
            if row is not None:
                row.pickups += 1
                if since is not None:
                    row.dwell.append((e.at - since).total_seconds() / 3600)
        elif state_after(e) == "expired" and e.kind == "compartment_state":
            loaded_at.pop(key, None)
            if row is not None:
                row.uncollected += 1
    # Returns from the deposits themselves: one row per item put into a return door.
    for bank_id, at in session.execute(
        select(DepositRow.bank_id, DepositRow.deposited_at).where(
            DepositRow.deposited_at >= start, DepositRow.deposited_at < end
        )
    ):
        if bank_id in zones:
            found = rows.get((at.astimezone(zones[bank_id]).date(), bank_id))
            if found is not None:
                found.returns += 1
    out = [
        OutOfService(names.get(c.bank_id, c.bank_id), c.bank_id, c.number, c.state_since, c.fault)
        for c in session.scalars(
            select(CompartmentRow)
            .where(CompartmentRow.state == "out_of_service")
            .order_by(CompartmentRow.bank_id, CompartmentRow.number)
        )
    ]
    return Report(first, last, list(rows.values()), out)


def csv_lines(report: Report) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["day", "bank", "pickups", "returns", "not_collected", "median_wait_hours"])
    for r in report.rows:
        dwell = r.median_dwell_hours
        writer.writerow(
            [
                r.day.isoformat(),
                r.bank_name,
                r.pickups,
                r.returns,
                r.uncollected,
                "" if dwell is None else f"{dwell:g}",
            ]
        )
    yield buf.getvalue()


def _period(today: date) -> tuple[date, date]:
    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return None

    last = day("to") or today
    first = day("from") or last - timedelta(days=13)
    if first > last:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return first, last


@bp.get("/reports")
@security.require_role(Role.VIEWER)
def reports() -> ResponseReturnValue:
    rt = security.runtime()
    first, last = _period(rt.clock().date())
    with unit_of_work(rt.sessions) as s:
        report = build(s, rt.settings, first, last)
    return render_template(
        "staff/reports.html",
        report=report,
        banks=sorted(rt.settings.banks, key=lambda b: b.name),
        zones={b.id: b.timezone for b in rt.settings.banks},
        max_days=MAX_DAYS,
    )


@bp.get("/reports.csv")
@security.require_role(Role.VIEWER)
def reports_csv() -> ResponseReturnValue:
    rt = security.runtime()
    first, last = _period(rt.clock().date())
    with unit_of_work(rt.sessions) as s:
        report = build(s, rt.settings, first, last)
    name = f"lockerbridge-report-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        "".join(csv_lines(report)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
