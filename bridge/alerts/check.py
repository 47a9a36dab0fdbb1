"""Keeps the open alerts in step with the conditions, then delivers what is new.

Run every 30 s by the scheduler (``bridge.jobs.periodic``). One open alert per condition: a
condition still holding updates its alert, one that ended clears it. A Redis lock keeps two
schedulers from raising the same alert twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.alerts import delivery
from bridge.alerts.rules import conditions
from bridge.runtime import Runtime, current
from bridge.services.banks import audit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.alerts import AlertRow

log = logging.getLogger(__name__)

LOCK = "lockerbridge:alerts:check"


@dataclass(frozen=True)
class CheckResult:
    raised: int
    cleared: int
    delivered: int


def _reconcile(s: Session, rt: Runtime, now: datetime) -> tuple[int, int]:
    found = {c.key: c for c in conditions(s, rt.settings, now)}
    open_rows = {r.key: r for r in s.scalars(select(AlertRow).where(AlertRow.cleared_at.is_(None)))}
    raised = cleared = 0
    for key, c in found.items():
        row = open_rows.get(key)
        if row is not None:
            row.last_seen_at = now
            row.summary = c.summary
            row.severity = c.severity
            continue
        s.add(
            AlertRow(
                key=key,
                rule=c.rule,
                severity=c.severity,
                bank_id=c.bank_id,
                compartment=c.compartment,
                summary=c.summary,
                raised_at=now,
                last_seen_at=now,
                sent={},
            )
        )
        audit(
            s,
            "alert_raised",
            at=now,
            bank_id=c.bank_id,
            compartment=c.compartment,
            rule=c.rule,
            severity=c.severity,
            summary=c.summary,
        )
        raised += 1
    for key, row in open_rows.items():
        if key not in found:
            row.cleared_at = now
            audit(
                s,
                "alert_cleared",
                at=now,
                bank_id=row.bank_id,
                compartment=row.compartment,
                rule=row.rule,
                summary=row.summary,
            )
            cleared += 1
    return raised, cleared


def check_alerts(rt: Runtime) -> CheckResult:
    if not rt.settings.alerts.enabled:
        return CheckResult(0, 0, 0)
    lock = rt.redis.lock(LOCK, timeout=120, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return CheckResult(0, 0, 0)  # another scheduler is checking right now
    try:
        now = rt.clock()
        with unit_of_work(rt.sessions) as s:
            raised, cleared = _reconcile(s, rt, now)
        if raised or cleared:
            log.info("alerts: %d raised, %d cleared", raised, cleared)
        return CheckResult(raised, cleared, delivery.deliver_pending(rt))
    finally:
        try:
            lock.release()
        except Exception:  # the lock timed out under a very slow check; nothing to undo
            log.warning("alert check outlived its lock")


def run_alert_checks() -> int:
    """Periodic job (no arguments; rq looks up the runtime)."""

    result = check_alerts(current())
    return result.raised + result.cleared


def open_alerts(rt: Runtime) -> list[AlertRow]:
    """Open alerts for the work list, most severe and oldest first."""
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(AlertRow).where(AlertRow.cleared_at.is_(None))))
        s.expunge_all()
    rows.sort(key=lambda r: (r.severity != "critical", r.raised_at))
    return rows
