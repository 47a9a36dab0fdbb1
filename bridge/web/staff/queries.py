"""What the status page shows, read in a few queries per page (the grid polls every few seconds).

Read-only: every change goes through :mod:`bridge.web.staff.actions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bridge.notify.staff import NEEDS_STAFF as FAILED_MESSAGE_STATES
from bridge.notify.staff import FailedMessage, failed_messages
from bridge.runtime import QUEUE_NAMES, Runtime
from bridge.services import offline_loans
from bridge.services.health import ILS_HEALTH_KEY
from bridge.services.offline_loans import RefusedLoan
from bridge.services.returns import worklist
from bridge.services.returns.worklist import NeedsStaff
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow, CompartmentRow
from bridge.storage.tables.lockers import LoadRow, TransitRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.offline import OfflineLoanRow
from bridge.storage.tables.returns import DepositRow

# What the occupancy sensor should read with the door shut (lockers.states.EXPECTED_OCCUPANCY,
# by value so this module does not depend on the enum's import).
EXPECTED_OCCUPIED: dict[str, bool | None] = {
    "free": False,
    "reserved": False,
    "loaded": True,
    "picked_up": False,
    "expired": True,
    "staff_remove": True,
    "return_free": False,
    "return_occupied": True,
    "emptied_by_staff": False,
    "out_of_service": None,
}
# States in which something waits in the door, so "how long" matters.
WAITING_STATES = frozenset({"loaded", "expired", "staff_remove", "return_occupied"})
REMOVAL_STATES = ("expired", "staff_remove")
DEPOSIT_PENDING_STATES = ("recorded", "checking_in", "waiting_for_ils")
HEALTH_OFFLINE_SHOWN = 10  # offline controllers named on the health panel; the rest counted


# What is inside a door: (item barcode, title or None), in loading order.
Inside = tuple[tuple[str, str | None], ...]


class Cell(NamedTuple):
    """One door as the grid shows it. A NamedTuple, not a frozen dataclass: a page builds
    thousands per request, and a frozen dataclass's __init__ costs several times more."""

    number: int
    size: str
    purpose: str
    state: str
    waited: timedelta | None
    expires_at: datetime | None
    fault: str | None
    door_open: bool
    discrepancy: bool
    items: int
    patron: str | None  # already masked for the viewer's role; None: not shown
    inside: Inside = ()  # also what is being loaded
    deposits: int = 0  # a return door: returns in it since it was emptied
    capacity: int = 1  # a return door: how many returns it takes


@dataclass(frozen=True)
class BankGrid:
    bank_id: str
    name: str
    online: bool
    seen_at: datetime | None
    cells: list[Cell]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cells:
            out[c.state] = out.get(c.state, 0) + 1
        return out


def mask_patron(card: str | None, role: Role) -> str | None:
    """Viewers see no patron data; staff and admins the last four characters of the card."""
    if card is None or role is Role.VIEWER:
        return None
    return "•••• " + card[-4:] if len(card) > 4 else "••••"


DoorLoads = tuple[int, datetime | None, str | None, Inside]
_NOTHING: DoorLoads = (0, None, None, ())


def _loads_by_door(rows: Any) -> dict[tuple[str, int], DoorLoads]:
    """Per door: how many loads, the earliest expiry, the patron's card and the items inside
    (a return door's pending scan is not inside yet: its door has not shut)."""
    out: dict[tuple[str, int], DoorLoads] = {}
    for bank_id, number, expires, card, barcode, title, kind in rows:
        count, earliest, patron, inside = out.get((bank_id, number), _NOTHING)
        if expires is not None and (earliest is None or expires < earliest):
            earliest = expires
        if kind != "deposit":
            inside = (*inside, (barcode, title))
        out[(bank_id, number)] = (count + 1, earliest, patron or card, inside)
    return out


def bank_grids(
    session: Session, now: datetime, role: Role, bank_ids: list[str] | None = None
) -> list[BankGrid]:
    """Every compartment of each bank (or of ``bank_ids``), in two queries."""
    banks_q = select(BankRow).order_by(BankRow.name)
    comps_q = select(
        CompartmentRow.bank_id,
        CompartmentRow.number,
        CompartmentRow.size,
        CompartmentRow.purpose,
        CompartmentRow.state,
        CompartmentRow.state_since,
        CompartmentRow.fault,
        CompartmentRow.door_open,
        CompartmentRow.occupied,
        CompartmentRow.deposits,
        CompartmentRow.capacity,
    ).order_by(CompartmentRow.bank_id, CompartmentRow.number)
    loads_q = select(
        LoadRow.bank_id,
        LoadRow.compartment,
        LoadRow.expires_at,
        LoadRow.patron,
        LoadRow.item_barcode,
        LoadRow.title,
        LoadRow.kind,
    ).order_by(LoadRow.id)
    if bank_ids is not None:
        banks_q = banks_q.where(BankRow.id.in_(bank_ids))
        comps_q = comps_q.where(CompartmentRow.bank_id.in_(bank_ids))
        loads_q = loads_q.where(LoadRow.bank_id.in_(bank_ids))
    loads = _loads_by_door(session.execute(loads_q))
    cells: dict[str, list[Cell]] = {}
    for (
        bank_id,
        number,
        size,
        purpose,
        state,
        since,
        fault,
        door_open,
        occupied,
        deposits,
        capacity,
    ) in session.execute(comps_q):
        count, expires, card, inside = loads.get((bank_id, number), _NOTHING)
        expected = EXPECTED_OCCUPIED.get(state)
        cells.setdefault(bank_id, []).append(
            Cell(
                number=number,
                size=size,
                purpose=purpose,
                state=state,
                waited=(now - since) if state in WAITING_STATES and since else None,
                expires_at=expires,
                fault=fault,
                door_open=door_open,
                discrepancy=(
                    not door_open
                    and occupied is not None
                    and expected is not None
                    and occupied != expected
                ),
                items=count,
                patron=mask_patron(card, role),
                inside=inside,
                deposits=deposits,
                capacity=capacity,
            )
        )
    return [
        BankGrid(b.id, b.name, b.controller_online, b.controller_seen_at, cells.get(b.id, []))
        for b in session.scalars(banks_q)
    ]


# --- health -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IlsHealth:
    name: str
    state: str  # "up" | "down" | "unknown"
    latency_ms: float | None
    checked_at: datetime | None
    error: str | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    ils: list[IlsHealth]
    queues: dict[str, int]
    failed_jobs: int
    deposits_waiting: int
    oldest_waiting_at: datetime | None
    # Offline controllers, first few by name (id, name, online, seen); a consortium's panel must
    # not list hundreds of banks on every poll.
    controllers: list[tuple[str, str, bool, datetime | None]]
    controllers_total: int = 0
    controllers_offline: int = 0
    offline_loans_waiting: int = 0  # lent while the ILS was down, not yet recorded by it


def ils_health(rt: Runtime) -> list[IlsHealth]:
    """The last probe of each ILS (written by ``bridge.services.health.probe_ils``)."""
    out = []
    for ils in rt.settings.ils:
        raw = rt.redis.get(ILS_HEALTH_KEY.format(name=ils.name))
        if raw is None:
            out.append(IlsHealth(ils.name, "unknown", None, None, None))
            continue
        data: dict[str, Any] = json.loads(raw)
        out.append(
            IlsHealth(
                ils.name,
                "up" if data.get("ok") else "down",
                data.get("latency_ms"),
                datetime.fromisoformat(data["at"]) if data.get("at") else None,
                data.get("error"),
                tuple(data.get("warnings") or ()),
            )
        )
    return out


def health(rt: Runtime, session: Session) -> Health:
    queues = {}
    failed = 0
    for name in QUEUE_NAMES:
        q = rt.queue(name)
        queues[name] = q.count
        failed += q.failed_job_registry.count
    waiting, oldest = session.execute(
        select(func.count(), func.min(DepositRow.deposited_at)).where(
            DepositRow.state.in_(DEPOSIT_PENDING_STATES)
        )
    ).one()
    total, offline = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((BankRow.controller_online.is_(False), 1), else_=0)), 0),
        )
    ).one()
    controllers = [
        (b.id, b.name, b.controller_online, b.controller_seen_at)
        for b in session.scalars(
            select(BankRow)
            .where(BankRow.controller_online.is_(False))
            .order_by(BankRow.name)
            .limit(HEALTH_OFFLINE_SHOWN)
        )
    ]
    return Health(
        ils_health(rt),
        queues,
        failed,
        waiting,
        oldest,
        controllers,
        int(total),
        int(offline),
        offline_loans.waiting_count(session),
    )


# --- work lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removal:
    bank_id: str
    compartment: int
    state: str
    since: datetime
    items: list[str]


@dataclass(frozen=True)
class Discrepancy:
    bank_id: str
    compartment: int
    state: str
    expected_occupied: bool
    reported_occupied: bool


@dataclass(frozen=True)
class InTransit:
    bank_id: str
    item: str
    destination: str
    announced_at: datetime


@dataclass(frozen=True)
class WorkLists:
    needs_staff: tuple[NeedsStaff, ...]  # from the returns service (worded by return_words)
    failed_messages: list[FailedMessage]  # patron already masked for the viewer's role
    removals: list[Removal]
    emptying: list[Removal]  # return doors with something inside
    discrepancies: list[Discrepancy]
    in_transit: dict[str, list[InTransit]]  # bank id -> items on their way there
    faults: list[tuple[str, int, str]]  # bank, compartment, fault
    # Loans made while the ILS was down that it refused afterwards (patron masked for viewers).
    refused_offline: tuple[RefusedLoan, ...] = ()

    @property
    def total(self) -> int:
        return (
            len(self.refused_offline)
            + len(self.needs_staff)
            + len(self.failed_messages)
            + len(self.removals)
            + len(self.discrepancies)
            + len(self.faults)
            + len(self.emptying)
        )


@dataclass(frozen=True)
class WorkSummary:
    total: int
    in_transit: int


def work_summary(session: Session) -> WorkSummary:
    """Only the counts, for the status page (the work list page has the rows), in one query."""
    attention = (
        select(func.count())
        .select_from(CompartmentRow)
        .where(
            CompartmentRow.state.in_((*REMOVAL_STATES, "return_occupied"))
            | CompartmentRow.fault.is_not(None)
        )
        .scalar_subquery()
    )
    needs = (
        select(func.count())
        .select_from(DepositRow)
        .where(DepositRow.state == "needs_staff", DepositRow.resolved_at.is_(None))
        .scalar_subquery()
    )
    failed = (
        select(func.count())
        .select_from(NotificationRow)
        .where(NotificationRow.state.in_(FAILED_MESSAGE_STATES))
        .scalar_subquery()
    )
    # Every row is on its way: loading.scan_item deletes it when the item arrives
    # (checked_in_at is where it was scanned on departure, not an arrival).
    transit = select(func.count()).select_from(TransitRow).scalar_subquery()
    refused = (
        select(func.count())
        .select_from(OfflineLoanRow)
        .where(OfflineLoanRow.state == "refused", OfflineLoanRow.resolved_at.is_(None))
        .scalar_subquery()
    )
    a, n, f, t, r = session.execute(select(attention, needs, failed, transit, refused)).one()
    # Sensor discrepancies are counted on the work list page; they need the model per door.
    return WorkSummary(int(a) + int(n) + int(f) + int(r), int(t))


def _masked_messages(messages: list[FailedMessage], role: Role) -> list[FailedMessage]:
    # Staff need the card number to phone the patron or correct the ILS record; viewers do not.
    if role.at_least(Role.STAFF):
        return messages
    return [replace(m, patron=None) for m in messages]


def work_lists(rt: Runtime, role: Role, limit: int = 200, bank_id: str | None = None) -> WorkLists:
    """Everything staff must act on, at every bank or at ``bank_id`` only (a consortium's staff
    work bank by bank). Needs-staff deposits and failed messages come from their services
    (``returns.worklist.returns_overview``, ``notify.staff.failed_messages``)."""
    needs = worklist.returns_overview(rt, bank_id=bank_id).needs_staff[:limit]
    refused_offline = tuple(
        r if role.at_least(Role.STAFF) else replace(r, patron=None)
        for r in offline_loans.refused_loans(rt, bank_id=bank_id)[:limit]
    )
    one_bank = [] if bank_id is None else [CompartmentRow.bank_id == bank_id]
    with unit_of_work(rt.sessions) as session:
        failed = failed_messages(session, limit=limit, bank_id=bank_id)
        attention = session.execute(
            select(
                CompartmentRow.bank_id,
                CompartmentRow.number,
                CompartmentRow.state,
                CompartmentRow.state_since,
                CompartmentRow.fault,
                CompartmentRow.door_open,
                CompartmentRow.occupied,
                CompartmentRow.deposits,
                CompartmentRow.capacity,
            )
            .where(
                CompartmentRow.state.in_((*REMOVAL_STATES, "return_occupied"))
                | CompartmentRow.fault.is_not(None)
                | CompartmentRow.occupied.is_not(None),
                *one_bank,
            )
            .order_by(CompartmentRow.bank_id, CompartmentRow.number)
            .limit(limit * 4)
        ).all()
        items: dict[tuple[str, int], list[str]] = {}
        wanted = {(c.bank_id, c.number) for c in attention if c.state in REMOVAL_STATES}
        if wanted:
            for bank_id, number, item in session.execute(
                select(LoadRow.bank_id, LoadRow.compartment, LoadRow.item_barcode).where(
                    LoadRow.bank_id.in_({b for b, _ in wanted})
                )
            ):
                if (bank_id, number) in wanted:
                    items.setdefault((bank_id, number), []).append(item)
        transit: dict[str, list[InTransit]] = {}
        for t in session.execute(
            select(
                TransitRow.bank_id,
                TransitRow.item_barcode,
                TransitRow.destination,
                TransitRow.announced_at,
            )
            .where(*([] if bank_id is None else [TransitRow.bank_id == bank_id]))
            .order_by(TransitRow.bank_id, TransitRow.announced_at)
            .limit(limit)
        ):
            transit.setdefault(t.bank_id, []).append(
                InTransit(t.bank_id, t.item_barcode, t.destination, t.announced_at)
            )
    removals, emptying, discrepancies, faults = [], [], [], []
    for c in attention:
        if c.state in REMOVAL_STATES:
            inside = items.get((c.bank_id, c.number), [])
            removals.append(Removal(c.bank_id, c.number, c.state, c.state_since, inside))
        elif c.state == "return_occupied":
            # How full it is; the items themselves are listed when it is emptied by scanning.
            count = f"{c.deposits} of {c.capacity} returns" if c.capacity > 1 else ""
            emptying.append(
                Removal(c.bank_id, c.number, c.state, c.state_since, [count] if count else [])
            )
        if c.fault:
            faults.append((c.bank_id, c.number, c.fault))
        expected = EXPECTED_OCCUPIED.get(c.state)
        if (
            not c.door_open
            and c.occupied is not None
            and expected is not None
            and c.occupied != expected
        ):
            discrepancies.append(Discrepancy(c.bank_id, c.number, c.state, expected, c.occupied))
    return WorkLists(
        needs,
        _masked_messages(failed, role),
        removals,
        emptying,
        discrepancies,
        transit,
        faults,
        refused_offline,
    )
