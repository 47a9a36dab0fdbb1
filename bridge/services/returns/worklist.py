"""The returns work list for staff: the backlog of deposits not yet through the ILS, and the
deposits staff must handle, each with its reason (``bridge.services.returns.findings`` decides
the reasons; the staff page words them, :mod:`bridge.web.staff.return_words`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.returns import DepositRow
from lockers.states import DepositState


class DepositNotFound(LookupError):
    """No deposit has that id (a stale link on the staff page)."""


class NotNeedingStaff(ValueError):
    """The deposit is not waiting for staff (already resolved, or still in progress)."""


@dataclass(frozen=True)
class NeedsStaff:
    deposit_id: int
    bank_id: str
    compartment: int
    item_barcode: str
    deposited_at: datetime
    reason: str  # a StaffReason value
    destination: str | None
    suggestion: str | None
    screen_message: str | None


@dataclass(frozen=True)
class ReturnsOverview:
    backlog: int  # deposits not yet through the ILS
    oldest_waiting: datetime | None  # deposit time of the oldest of them
    needs_staff: tuple[NeedsStaff, ...]  # unresolved, oldest first


def returns_overview(rt: Runtime, *, bank_id: str | None = None) -> ReturnsOverview:
    """Backlog size, the oldest waiting deposit, and what staff must handle, with reasons."""
    open_states = (
        DepositState.RECORDED.value,
        DepositState.CHECKING_IN.value,
        DepositState.WAITING_FOR_ILS.value,
    )
    with unit_of_work(rt.sessions) as s:
        q = select(DepositRow.deposited_at).where(DepositRow.state.in_(open_states))
        staff_q = (
            select(DepositRow)
            .where(
                DepositRow.state == DepositState.NEEDS_STAFF.value,
                DepositRow.resolved_at.is_(None),
            )
            .order_by(DepositRow.deposited_at, DepositRow.id)
        )
        if bank_id is not None:
            q = q.where(DepositRow.bank_id == bank_id)
            staff_q = staff_q.where(DepositRow.bank_id == bank_id)
        times = [t for (t,) in s.execute(q).all()]
        rows = s.scalars(staff_q).all()
        staff = tuple(
            NeedsStaff(
                deposit_id=r.id,
                bank_id=r.bank_id,
                compartment=r.compartment,
                item_barcode=r.item_barcode,
                deposited_at=r.deposited_at,
                reason=r.reason or "",
                destination=r.destination,
                suggestion=r.suggestion,
                screen_message=r.screen_message,
            )
            for r in rows
        )
    return ReturnsOverview(len(times), min(times) if times else None, staff)


def resolve_needs_staff(rt: Runtime, deposit_id: int, actor: str, note: str) -> None:
    """Staff say they handled a deposit; it leaves the list and the action is audited.

    Raises:
        DepositNotFound: no such deposit.
        NotNeedingStaff: it is not (or no longer) waiting for staff.
    """
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(DepositRow, deposit_id)
        if row is None:
            raise DepositNotFound(deposit_id)
        if row.state != DepositState.NEEDS_STAFF.value or row.resolved_at is not None:
            raise NotNeedingStaff(f"deposit {deposit_id} is {row.state}, not waiting for staff")
        row.resolved_at, row.resolved_by, row.resolution_note = now, actor, note[:500]
        row.depositor = None
        s.add(
            AuditEventRow(
                at=now,
                kind="deposit.resolved",
                bank_id=row.bank_id,
                compartment=row.compartment,
                actor=actor,
                item=row.item_barcode,
                detail={"deposit": row.id, "reason": row.reason, "note": note[:500]},
            )
        )
