"""Recording a deposit: the writes every entry point shares, inside the caller's transaction,
and choosing the return door a deposit goes into.

Kept below ``bridge.services.returns`` (which checks deposits in and so reaches the ILS,
equipment and ILL modules) so that the door-close event (``bridge.services.doors.closing``) can
record its deposits in its own transaction without depending on any of that.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.services.banks import BankState, load_bank
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.returns import DepositRow
from lockers.states import CompartmentState, DepositState

log = logging.getLogger(__name__)

KIND = "deposit_checkin"


def add_deposit(
    s: Session,
    *,
    bank_id: str,
    compartment: int,
    item_barcode: str,
    deposited_at: datetime,
    now: datetime,
    depositor: str | None = None,
    event_id: str | None = None,
) -> tuple[int, bool]:
    """The writes of :func:`record_deposit` inside the caller's transaction (the door-close
    event records its deposits in the same commit as the door's state): the deposit, its audit
    event and its outbox row. Returns (id, new); the caller dispatches ``deposit_checkin``
    for a new one after its commit."""
    deposit_id = s.scalar(
        _insert_or_nothing(s, DepositRow)
        .values(
            bank_id=bank_id,
            compartment=compartment,
            item_barcode=item_barcode,
            deposited_at=deposited_at,
            recorded_at=now,
            event_id=event_id,
            depositor=depositor,
            state=DepositState.RECORDED.value,
            state_since=now,
        )
        .returning(DepositRow.id)
    )
    if deposit_id is None:  # this controller event was recorded before
        known = s.scalar(
            select(DepositRow.id).where(
                DepositRow.bank_id == bank_id, DepositRow.event_id == event_id
            )
        )
        assert known is not None
        return known, False
    s.execute(
        insert(AuditEventRow),
        [
            deposit_audit_values(
                deposit_id,
                bank_id,
                compartment,
                item_barcode,
                None,
                DepositState.RECORDED,
                at=now,
                actor="controller",
                why="deposit",
            )
        ],
    )
    outbox.add(s, KIND, ref=str(deposit_id), now=now, order_key=item_barcode)
    return deposit_id, True


# Staff emptying a return door open it with their key, and the controller's report of that can
# reach us after the last item is scanned out: the emptied door is offered to deposits again only
# once the controller reports it shut after the emptying, or after this long when no close comes
# (staff shut it first and scanned the items at the desk).
EMPTIED = "compartment_emptied"
EMPTIED_SETTLE = timedelta(minutes=2)


def door_for_deposit(s: Session, bank_id: str, *, now: datetime) -> CompartmentRow | None:
    """The return door to open for the next deposit, inside the caller's transaction (which
    holds the bank lock), or None when every return door is full, open or out of service.

    The domain picks it (``Bank.door_for_deposit``): a bin that holds returns and takes more
    comes before an empty one. Doors in :func:`unavailable_doors` are left out.
    """
    state = load_bank(s, bank_id)
    number = state.bank.door_for_deposit(unavailable=unavailable_doors(s, state, now=now))
    return None if number is None else state.rows[number]


def unavailable_doors(s: Session, state: BankState, *, now: datetime) -> set[int]:
    """Return doors that are someone else's right now: open, promised to a scan whose door has
    not shut yet, or emptied by staff and not yet reported shut since (``EMPTIED_SETTLE``)."""
    bank_id = state.bank.bank_id
    out = set(
        s.scalars(
            select(LoadRow.compartment).where(
                LoadRow.bank_id == bank_id, LoadRow.kind == "deposit"
            )
        )
    )
    out.update(number for number, row in state.rows.items() if row.door_open)
    since = now - EMPTIED_SETTLE
    fresh = {
        number: row
        for number, row in state.rows.items()
        if row.state == CompartmentState.RETURN_FREE.value
        and row.state_since is not None
        and row.state_since >= since
    }
    if not fresh:
        return out
    emptied = s.execute(
        select(AuditEventRow.compartment, AuditEventRow.detail)
        .where(
            AuditEventRow.kind == EMPTIED,
            AuditEventRow.bank_id == bank_id,
            AuditEventRow.compartment.in_(fresh),
            AuditEventRow.at >= since,
        )
        .order_by(AuditEventRow.at)
    ).all()
    # The last close reported when the door was emptied: the same one still means no close has
    # come since (the controller's own times are not compared with our clock).
    shut_when_emptied = {number: (detail or {}).get("shut_at") for number, detail in emptied}
    out.update(
        number
        for number, shut_at in shut_when_emptied.items()
        if number is not None and shut_at == shut_mark(fresh[number])
    )
    return out


def shut_mark(row: CompartmentRow) -> str | None:
    """The door's last reported close, as the emptying's audit event keeps it."""
    return None if row.door_closed_at is None else row.door_closed_at.isoformat()


def _insert_or_nothing(s: Session, table: type[DepositRow]) -> Any:
    """INSERT that does nothing (and returns no row) when the controller event is known.

    One statement instead of look-up-then-insert; a repeat of the same event arriving at the
    same moment waits for the first and then does nothing (PostgreSQL and SQLite >= 3.35).
    """
    if s.get_bind().dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=["bank_id", "event_id"])
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=["bank_id", "event_id"])


def deposit_audit_values(
    deposit_id: int,
    bank_id: str,
    compartment: int,
    item: str,
    was: DepositState | None,
    to: DepositState,
    *,
    at: datetime,
    actor: str,
    why: str,
) -> dict[str, Any]:
    return {
        "at": at,
        "kind": f"deposit.{to.value}",
        "bank_id": bank_id,
        "compartment": compartment,
        "actor": actor,
        "subject": None,
        "item": item,
        "detail": {
            "deposit": deposit_id,
            "from": was.value if was else None,
            "to": to.value,
            "reason": why,
        },
    }


def release_abandoned_scans(rt: Runtime) -> int:
    """Drops return scans whose door never opened: the kiosk's process died between storing the
    scan and opening the door (or the open failed and the clean-up was lost). Such a scan keeps
    its door out of use for every later return.

    A scan is abandoned when no door-opened event arrived for it (``state`` still ``reserved``;
    the event marks it ``open``), its door is shut, and it is older than two outbox leases (the
    kiosk's request is long over). No item can be behind a door that never opened, so nothing
    is lost; each drop is audited. Run by the sweeper; returns how many were dropped.
    """
    now = rt.clock()
    before = now - 2 * timedelta(seconds=rt.settings.outbox_lease_seconds)
    with unit_of_work(rt.sessions) as s:
        stale = s.execute(
            select(LoadRow.id, LoadRow.bank_id, LoadRow.compartment, LoadRow.item_barcode)
            .join(
                CompartmentRow,
                (CompartmentRow.bank_id == LoadRow.bank_id)
                & (CompartmentRow.number == LoadRow.compartment),
            )
            .where(
                LoadRow.kind == "deposit",
                LoadRow.state == "reserved",
                LoadRow.created_at < before,
                CompartmentRow.door_open.is_(False),
            )
        ).all()
        if not stale:
            return 0
        s.execute(delete(LoadRow).where(LoadRow.id.in_([r.id for r in stale])))
        s.execute(
            insert(AuditEventRow),
            [
                {
                    "at": now,
                    "kind": "return_scan_abandoned",
                    "bank_id": r.bank_id,
                    "compartment": r.compartment,
                    "actor": "system",
                    "subject": None,
                    "item": r.item_barcode,
                    "detail": {"reason": "the door never opened"},
                }
                for r in stale
            ],
        )
    log.info("dropped %d return scan(s) whose door never opened", len(stale))
    return len(stale)
