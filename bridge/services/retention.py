"""Data retention: patron↔item links and old audit data are purged on schedule.

DOMAIN.md section 6: links are purged at most ``retention.patron_item_link_hours`` after the ILS
confirmed the loan or return; the pseudonymised audit log is kept ``retention.audit_days``.
This job is the backstop: the flows already clear links as soon as they can.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, or_, update

from bridge.runtime import Runtime, current
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow

log = logging.getLogger(__name__)
DONE_OUTBOX_DAYS = 7


@dataclass(frozen=True)
class PurgeReport:
    load_links: int
    deposit_links: int
    notification_links: int
    audit_events: int
    outbox_rows: int
    ill_links: int = 0


def purge_now(rt: Runtime) -> PurgeReport:
    now = rt.clock()
    link_cutoff = now - timedelta(hours=rt.settings.retention.patron_item_link_hours)
    audit_cutoff = now - timedelta(days=rt.settings.retention.audit_days)
    with unit_of_work(rt.sessions) as s:
        loads = s.execute(
            update(LoadRow)
            .where(LoadRow.purge_after.is_not(None), LoadRow.purge_after <= now)
            .where(
                or_(
                    LoadRow.patron.is_not(None),
                    LoadRow.title.is_not(None),
                    LoadRow.patron_name.is_not(None),
                )
            )
            .values(patron=None, title=None, patron_name=None)
        )
        deposits = s.execute(
            update(DepositRow)
            .where(DepositRow.depositor.is_not(None))
            .where(
                or_(
                    and_(
                        DepositRow.ils_confirmed_at.is_not(None),
                        DepositRow.ils_confirmed_at <= link_cutoff,
                    ),
                    and_(
                        DepositRow.resolved_at.is_not(None), DepositRow.resolved_at <= link_cutoff
                    ),
                )
            )
            .values(depositor=None)
        )
        notes = s.execute(
            update(NotificationRow)
            .where(NotificationRow.settled_at.is_not(None))
            .where(NotificationRow.settled_at <= link_cutoff)
            .where(or_(NotificationRow.patron.is_not(None), NotificationRow.secrets.is_not(None)))
            .values(patron=None, secrets=None)
        )
        # ILL loans that never close through us (returned at a desk, say) keep the patron at
        # most as long as the audit log; closed ones were cleared by the ILL flow already.
        ill = s.execute(
            update(IllRequestRow)
            .where(IllRequestRow.accepted_at < audit_cutoff)
            .where(or_(IllRequestRow.patron.is_not(None), IllRequestRow.title.is_not(None)))
            .values(patron=None, title=None)
        )
        audit = s.execute(delete(AuditEventRow).where(AuditEventRow.at < audit_cutoff))
        outbox = s.execute(
            delete(OutboxRow).where(
                OutboxRow.state == "done",
                OutboxRow.done_at < now - timedelta(days=DONE_OUTBOX_DAYS),
            )
        )
        report = PurgeReport(
            load_links=getattr(loads, "rowcount", 0),
            deposit_links=getattr(deposits, "rowcount", 0),
            notification_links=getattr(notes, "rowcount", 0),
            audit_events=getattr(audit, "rowcount", 0),
            outbox_rows=getattr(outbox, "rowcount", 0),
            ill_links=getattr(ill, "rowcount", 0),
        )
    log.info("retention: %s", report)
    return report


def purge() -> PurgeReport:
    """Periodic entry point (see ``bridge.periodic``)."""
    return purge_now(current())
