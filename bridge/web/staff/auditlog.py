"""The audit log as staff read it: filtered listing, CSV export, and daily figures for charts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from bridge.storage.tables.core import AuditEventRow

PAGE_SIZE = 200
CSV_COLUMNS = ("at", "kind", "bank_id", "compartment", "actor", "subject", "item", "detail")


@dataclass(frozen=True)
class AuditFilter:
    kind: str | None = None
    bank_id: str | None = None
    since: date | None = None  # inclusive, UTC day
    until: date | None = None  # inclusive, UTC day

    @classmethod
    def from_args(cls, args: dict[str, str]) -> AuditFilter:
        """Reads the query string; malformed dates are ignored rather than failing the page."""

        def day(value: str | None) -> date | None:
            try:
                return date.fromisoformat(value) if value else None
            except ValueError:
                return None

        return cls(
            kind=(args.get("kind") or "").strip() or None,
            bank_id=(args.get("bank") or "").strip() or None,
            since=day(args.get("from")),
            until=day(args.get("to")),
        )

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.kind:
            query = query.where(AuditEventRow.kind == self.kind)
        if self.bank_id:
            query = query.where(AuditEventRow.bank_id == self.bank_id)
        if self.since:
            query = query.where(AuditEventRow.at >= datetime.combine(self.since, time(), UTC))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time(), UTC)
            query = query.where(AuditEventRow.at < end)
        return query


def events(session: Session, flt: AuditFilter, limit: int = PAGE_SIZE) -> list[AuditEventRow]:
    q = flt.apply(select(AuditEventRow)).order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc())
    return list(session.scalars(q.limit(limit)))


# The distinct kinds by hopping through the (kind, at) index one kind at a time: a plain
# SELECT DISTINCT reads every row of a year-long log on each audit page.
_KINDS = text(
    "WITH RECURSIVE k(kind) AS ("
    " SELECT min(kind) FROM audit_event"
    " UNION ALL"
    " SELECT (SELECT min(e.kind) FROM audit_event e WHERE e.kind > k.kind)"
    " FROM k WHERE k.kind IS NOT NULL"
    ") SELECT kind FROM k WHERE kind IS NOT NULL"
)


def kinds(session: Session) -> list[str]:
    return [str(kind) for kind in session.scalars(_KINDS)]


def csv_rows(session: Session, flt: AuditFilter) -> Iterator[str]:
    """The filtered log as CSV text, streamed in chunks (the log may be long)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    q = flt.apply(select(AuditEventRow)).order_by(AuditEventRow.at, AuditEventRow.id)
    for n, e in enumerate(session.scalars(q.execution_options(yield_per=500)), start=1):
        writer.writerow(
            [
                e.at.isoformat(),
                _cell(e.kind),
                _cell(e.bank_id or ""),
                e.compartment if e.compartment is not None else "",
                _cell(e.actor),
                _cell(e.subject or ""),
                _cell(e.item or ""),
                _cell(json.dumps(e.detail, sort_keys=True, default=str)),
            ]
        )
        if n % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cell(text: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheets (OWASP "CSV injection").
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- daily figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Daily:
    days: list[date]
    pickups: list[int]
    returns: list[int]
    dwell_hours: list[float | None]  # median time from loaded to picked up, per pickup day


def state_after(e: AuditEventRow) -> str | None:
    value = (e.detail or {}).get("to_state") or (e.detail or {}).get("to")
    return str(value) if value else None


def is_pickup(e: AuditEventRow) -> bool:
    return state_after(e) == "picked_up" or e.kind in (
        "pickup",
        "picked_up",
        "compartment_picked_up",
    )


def is_loaded(e: AuditEventRow) -> bool:
    return state_after(e) == "loaded" or e.kind in ("loaded", "item_loaded", "compartment_loaded")


def is_return(e: AuditEventRow) -> bool:
    return e.kind in ("deposit.recorded", "deposit_recorded") or (
        state_after(e) == "recorded" and (e.detail or {}).get("what") == "deposit"
    )


def daily(session: Session, bank_id: str | None, today: date, days: int = 14) -> Daily:
    """Pickups, returns and median dwell per UTC day for the last ``days`` days."""
    first = today - timedelta(days=days - 1)
    # Loads may precede the window by up to the longest hold-shelf time.
    start = datetime.combine(first - timedelta(days=60), time(), UTC)
    q = select(AuditEventRow).where(AuditEventRow.at >= start)
    if bank_id:
        q = q.where(AuditEventRow.bank_id == bank_id)
    q = q.order_by(AuditEventRow.at, AuditEventRow.id)
    day_list = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(day_list)}
    pickups = [0] * days
    returns = [0] * days
    dwell: list[list[float]] = [[] for _ in range(days)]
    loaded_at: dict[tuple[str | None, int | None], datetime] = {}
    for e in session.scalars(q.execution_options(yield_per=1000)):
        key = (e.bank_id, e.compartment)
        if is_loaded(e):
            loaded_at[key] = e.at
            continue
        i = index.get(e.at.astimezone(UTC).date())
        if is_pickup(e):
            since = loaded_at.pop(key, None)
            if i is not None:
                pickups[i] += 1
                if since is not None:
                    dwell[i].append((e.at - since).total_seconds() / 3600)
        elif is_return(e) and i is not None:
            returns[i] += 1
    return Daily(day_list, pickups, returns, [round(median(d), 1) if d else None for d in dwell])
