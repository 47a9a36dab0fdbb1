"""Recording a deposit in a transaction of its own, and forgetting who made it.

:func:`record_deposit` stores a deposit, its audit event and its check-in work in one
transaction (the door-close event records its deposits in its own transaction instead:
``bridge.services.doors.closing``); :func:`purge_depositor_links` clears patron↔item links
kept longer than the retention setting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.services.deposits import KIND, add_deposit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.returns import DepositRow


def record_deposit(
    rt: Runtime,
    *,
    bank_id: str,
    compartment: int,
    item_barcode: str,
    deposited_at: datetime,
    depositor: str | None = None,
    event_id: str | None = None,
) -> int:
    """Stores a deposit, its audit event and its check-in work in one transaction; returns its id.

    The check-in is handed to a worker after the commit. The same controller ``event_id`` for a
    bank twice returns the first deposit's id and queues nothing new.

    Raises:
        KeyError: ``bank_id`` is not configured.
        ValueError: ``deposited_at`` is naive or the barcode is empty.
    """
    rt.settings.bank(bank_id)
    if deposited_at.tzinfo is None:
        raise ValueError("deposited_at must be timezone-aware")
    item_barcode = item_barcode.strip()
    if not item_barcode:
        raise ValueError("a deposit needs an item barcode")
    with unit_of_work(rt.sessions) as s:
        deposit_id, new = add_deposit(
            s,
            bank_id=bank_id,
            compartment=compartment,
            item_barcode=item_barcode,
            deposited_at=deposited_at,
            now=rt.clock(),
            depositor=depositor,
            event_id=event_id,
        )
    if new:
        outbox.dispatch(rt, KIND, str(deposit_id))
    return deposit_id


def purge_depositor_links(rt: Runtime) -> int:
    """Clears patron↔item links kept longer than the retention setting after the deposit ended."""
    now = rt.clock()
    limit = now - timedelta(hours=rt.settings.retention.patron_item_link_hours)
    with unit_of_work(rt.sessions) as s:
        result = s.execute(
            update(DepositRow)
            .where(
                DepositRow.depositor.is_not(None),
                DepositRow.finished_at.is_not(None),
                DepositRow.finished_at <= limit,
            )
            .values(depositor=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)
