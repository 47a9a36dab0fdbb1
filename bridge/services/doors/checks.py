"""Doors for staff to look at: doors left open too long (a periodic alert), and shut doors
whose last occupancy reading contradicts the model (the work list).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.runtime import Runtime, current
from bridge.services.banks import audit_events, load_bank
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from lockers.events import Discrepancy
from lockers.safety import SafetyMonitor, SafetyPolicy
from lockers.states import EXPECTED_OCCUPANCY, CompartmentState


def check_open_doors(rt: Runtime) -> int:
    """Raises one "door left open" staff alert (audit ``door_left_open``) per opening that
    lasts longer than the bank's ``door_open_alert_seconds``; returns how many were raised.

    Run every 30 s by the scheduler (``bridge.jobs.periodic``) through :func:`run_door_checks`."""
    now = rt.clock()
    count = 0
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(
            select(CompartmentRow)
            .where(CompartmentRow.door_open.is_(True), CompartmentRow.door_opened_at.is_not(None))
            .order_by(CompartmentRow.bank_id, CompartmentRow.number)
        ).all()
        by_bank: dict[str, list[CompartmentRow]] = {}
        for row in rows:
            by_bank.setdefault(row.bank_id, []).append(row)
        for bank_id, open_rows in by_bank.items():
            try:
                after = rt.settings.bank(bank_id).door_open_alert_seconds
            except KeyError:
                continue  # a bank no longer configured: its doors are out of service
            monitor = SafetyMonitor(
                load_bank(s, bank_id).bank,
                SafetyPolicy(door_open_alert_after=timedelta(seconds=after)),
            )
            opened = {r.number: r.door_opened_at for r in open_rows}
            for row in open_rows:
                monitor.door_opened(row.number, opened[row.number] or now)
            for alert in monitor.due_alerts(now):
                already = s.scalars(
                    select(AuditEventRow.id).where(
                        AuditEventRow.kind == "door_left_open",
                        AuditEventRow.bank_id == bank_id,
                        AuditEventRow.compartment == alert.compartment,
                        AuditEventRow.at >= alert.opened_at,
                    )
                ).first()
                if already is not None:
                    continue  # one alert per opening
                audit_events(s, [alert], actor="system")
                count += 1
    return count


def run_door_checks() -> int:
    """Periodic job (no arguments; rq looks up the runtime)."""

    return check_open_doors(current())


def discrepancies(session: Session, bank_id: str | None = None) -> list[Discrepancy]:
    """Doors shut whose last occupancy reading contradicts the model, for staff (the status
    page's work list shows the same rows)."""
    q = select(CompartmentRow).where(
        CompartmentRow.door_open.is_(False), CompartmentRow.occupied.is_not(None)
    )
    if bank_id is not None:
        q = q.where(CompartmentRow.bank_id == bank_id)
    found = []
    for row in session.scalars(q.order_by(CompartmentRow.bank_id, CompartmentRow.number)):
        expected = EXPECTED_OCCUPANCY[CompartmentState(row.state)]
        if expected is not None and row.occupied is not None and expected != row.occupied:
            found.append(
                Discrepancy(
                    row.bank_id, row.number, row.state, expected, row.occupied, row.state_since
                )
            )
    return found
