"""The consortium overview: one line per bank (free, loaded, returns, out of service, alerts).

A consortium may run hundreds of banks; the status page must not grow with them. The overview
is read one page of banks at a time (``PAGE_SIZE``, ordered by name, optionally narrowed by a
search on name, id or branch), and the counts are aggregated in SQL for those banks only, so
a page costs the same at 5 banks as at 500. Each bank's grid is on its own page
(``/staff/banks/<id>``); deployments with only a few banks also show the grids inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from bridge.storage.tables.core import BankRow, CompartmentRow
from bridge.storage.tables.returns import DepositRow

PAGE_SIZE = 50
# Up to this many banks, the status page also shows every bank's grid below the overview
# (a single library wants its doors at a glance, not a click away).
INLINE_GRIDS_MAX_BANKS = 3
# Compartment states that need someone to go to the bank (removals and full return doors).
ATTENTION_STATES = ("expired", "staff_remove", "return_occupied")
SEARCH_MAX = 100


@dataclass(frozen=True)
class BankSummary:
    bank_id: str
    name: str
    branch: str
    online: bool
    seen_at: datetime | None
    free: int
    loaded: int
    return_occupied: int
    out_of_service: int
    alerts: int  # doors to empty or with a fault, plus returns waiting for staff

    @property
    def needs_attention(self) -> bool:
        return self.alerts > 0 or not self.online


@dataclass(frozen=True)
class Overview:
    banks: list[BankSummary]
    total_banks: int  # matching the search
    page: int  # 1-based
    pages: int
    query: str


def _search(query: str) -> list[ColumnElement[bool]]:
    if not query:
        return []
    # LIKE wildcards typed by staff are matched literally.
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [
        or_(
            BankRow.name.ilike(pattern, escape="\\"),
            BankRow.id.ilike(pattern, escape="\\"),
            BankRow.branch.ilike(pattern, escape="\\"),
        )
    ]


def overview(session: Session, query: str = "", page: int = 1) -> Overview:
    """One page of bank summaries, in four small queries whatever the number of banks."""
    query = query.strip()[:SEARCH_MAX]
    where = _search(query)
    total = session.scalar(select(func.count()).select_from(BankRow).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    banks = session.execute(
        select(
            BankRow.id,
            BankRow.name,
            BankRow.branch,
            BankRow.controller_online,
            BankRow.controller_seen_at,
        )
        .where(*where)
        .order_by(BankRow.name, BankRow.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    ids = [b.id for b in banks]
    counts: dict[str, dict[str, int]] = {}
    if ids:
        state = CompartmentRow.state
        for bank_id, free, loaded, returns, oos, attention in session.execute(
            select(
                CompartmentRow.bank_id,
                func.sum(case((state.in_(("free", "return_free")), 1), else_=0)),
                func.sum(case((state.in_(("loaded", "expired", "staff_remove")), 1), else_=0)),
                func.sum(case((state == "return_occupied", 1), else_=0)),
                func.sum(case((state == "out_of_service", 1), else_=0)),
                func.sum(
                    case(
                        (or_(state.in_(ATTENTION_STATES), CompartmentRow.fault.is_not(None)), 1),
                        else_=0,
                    )
                ),
            )
            .where(CompartmentRow.bank_id.in_(ids))
            .group_by(CompartmentRow.bank_id)
        ):
            counts[bank_id] = {
                "free": int(free or 0),
                "loaded": int(loaded or 0),
                "return_occupied": int(returns or 0),
                "out_of_service": int(oos or 0),
                "alerts": int(attention or 0),
            }
        for bank_id, waiting in session.execute(
            select(DepositRow.bank_id, func.count())
            .where(
                DepositRow.bank_id.in_(ids),
                DepositRow.state == "needs_staff",
                DepositRow.resolved_at.is_(None),
            )
            .group_by(DepositRow.bank_id)
        ):
            bank = counts.setdefault(bank_id, {})
            bank["alerts"] = bank.get("alerts", 0) + int(waiting)
    summaries = []
    for b in banks:
        c = counts.get(b.id, {})
        summaries.append(
            BankSummary(
                bank_id=b.id,
                name=b.name,
                branch=b.branch,
                online=b.controller_online,
                seen_at=b.controller_seen_at,
                free=c.get("free", 0),
                loaded=c.get("loaded", 0),
                return_occupied=c.get("return_occupied", 0),
                out_of_service=c.get("out_of_service", 0),
                alerts=c.get("alerts", 0),
            )
        )
    return Overview(summaries, total, page, pages, query)
