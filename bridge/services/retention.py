"""Data retention: patron↔item links and old audit data are purged on schedule.

docs/operations.md (Data retention): links are purged at most ``retention.patron_item_link_hours``
after the ILS confirmed the loan or return; the pseudonymised audit log is kept
``retention.audit_days``. Finished offline loans (:mod:`bridge.services.offline_loans`:
recorded by the ILS, or refused and handled by staff) are deleted
``retention.patron_item_link_hours`` after they finished. This job is the backstop: the flows
already clear links as soon as they can.

Deleting a year-old day of a consortium's audit log is tens of thousands of rows: the deletes
go in batches of ``DELETE_BATCH`` rows, each in its own short transaction, so the job never
holds locks on the audit log (which every door event writes to) for long, and a crash midway
keeps what was already done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update
from sqlalchemy.orm import aliased

from bridge.runtime import Runtime, current
from bridge.services.offline_loans import OPEN_STATES, RECORDED, REFUSED
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.offline import OfflineLoanRow
from bridge.storage.tables.returns import DepositRow

log = logging.getLogger(__name__)
DONE_OUTBOX_DAYS = 7
DELETE_BATCH = 5_000


def _delete_in_batches(
    rt: Runtime,
    table: type[AuditEventRow] | type[OutboxRow] | type[OfflineLoanRow],
    *where: ColumnElement[bool],
) -> int:
    """Deletes the rows matching ``where``, ``DELETE_BATCH`` at a time, one transaction each."""
    deleted = 0
    while True:
        with unit_of_work(rt.sessions) as s:
            ids = select(table.id).where(*where).limit(DELETE_BATCH)
            done = getattr(s.execute(delete(table).where(table.id.in_(ids))), "rowcount", 0)
        deleted += done
        if done < DELETE_BATCH:
            return deleted


@dataclass(frozen=True)
class PurgeReport:
    load_links: int
    deposit_links: int
    notification_links: int
    audit_events: int
    outbox_rows: int
    ill_links: int = 0
    offline_loans: int = 0


def _finished_offline_loans(link_cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    """Offline loans the ILS recorded, or whose refusal staff handled, before ``link_cutoff``.

    The card number went when they finished; the row still ties the patron's pseudonym to the
    item, so the whole row goes. A row whose pickup still has a loan on its way stays: the
    patron's message, sent when the last one is recorded, lists the pickup's recorded items.
    """
    sibling = aliased(OfflineLoanRow)
    row = OfflineLoanRow
    return (
        or_(
            and_(row.state == RECORDED, row.finished_at <= link_cutoff),
            and_(row.state == REFUSED, row.resolved_at <= link_cutoff),
        ),
        ~exists().where(
            sibling.patron_ref == row.patron_ref,
            sibling.bank_id == row.bank_id,
            sibling.picked_up_at == row.picked_up_at,
            sibling.state.in_(OPEN_STATES),
        ),
    )


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
        links = [getattr(r, "rowcount", 0) for r in (loads, deposits, notes, ill)]
    audit = _delete_in_batches(rt, AuditEventRow, AuditEventRow.at < audit_cutoff)
    outbox = _delete_in_batches(
        rt,
        OutboxRow,
        OutboxRow.state == "done",
        OutboxRow.done_at < now - timedelta(days=DONE_OUTBOX_DAYS),
    )
    offline = _delete_in_batches(rt, OfflineLoanRow, *_finished_offline_loans(link_cutoff))
    report = PurgeReport(
        load_links=links[0],
        deposit_links=links[1],
        notification_links=links[2],
        audit_events=audit,
        outbox_rows=outbox,
        ill_links=links[3],
        offline_loans=offline,
    )
    log.info("retention: %s", report)
    return report


def purge() -> PurgeReport:
    """Periodic entry point (see ``bridge.jobs.periodic``)."""
    return purge_now(current())
