"""What a door's close finishes, besides loading (``bridge.services.doors.events.door_closed``).

- a pickup: the door, found empty, is free again and the patron↔item link purged;
- a return door: its pending scans become deposits, in the same transaction as the door's state;
- stocked equipment: the device is available.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services.banks import BankState, audit
from bridge.services.deposits import add_deposit
from bridge.storage.tables.lockers import EquipmentRow, LoadRow
from lockers.events import LockerEvent
from lockers.states import CompartmentState

_S = CompartmentState


def equipment_available(s: Session, loads: list[LoadRow], number: int) -> None:
    for load in loads:
        if load.kind == "equipment":
            s.execute(
                update(EquipmentRow)
                .where(EquipmentRow.item_barcode == load.item_barcode)
                .values(state="available", compartment=number)
            )


def close_after_pickup(
    rt: Runtime,
    s: Session,
    state: BankState,
    number: int,
    at: datetime,
    events: list[LockerEvent],
) -> None:
    row = state.rows[number]
    if row.occupied is True:
        # The sensor still sees something: leave it for staff rather than free a full door
        # (door_closed reports the discrepancy).
        return
    loads = state.loads_in(number)
    events.append(
        state.bank.transition(number, _S.FREE, at=at, actor="patron", reason="door closed empty")
    )
    for load in loads:
        audit(
            s,
            "pickup_completed",
            at=at,
            bank_id=state.bank.bank_id,
            compartment=number,
            actor="patron",
            subject=load.patron_ref,
            item=load.item_barcode,
            load_kind=load.kind,
        )
        s.delete(load)


def close_return_door(
    s: Session,
    state: BankState,
    number: int,
    at: datetime,
    events: list[LockerEvent],
    *,
    now: datetime,
) -> list[int]:
    """The door's pending scans become deposits (backdated to ``at``, the close), in the
    transaction that marks the door occupied and deletes the scans: a crash can no longer leave
    an occupied door with its scans gone and no deposit. Returns the new deposits' ids."""
    pending = list(
        s.scalars(
            select(LoadRow).where(
                LoadRow.bank_id == state.bank.bank_id,
                LoadRow.compartment == number,
                LoadRow.kind == "deposit",
            )
        )
    )
    if not pending:
        return []
    # Counted against the door's capacity; the first deposit makes it occupied.
    events.extend(state.bank.deposit(number, count=len(pending), at=at, actor="patron"))
    out: list[int] = []
    for scan in pending:
        deposit_id, new = add_deposit(
            s,
            bank_id=state.bank.bank_id,
            compartment=number,
            item_barcode=scan.item_barcode,
            deposited_at=at,
            now=now,
            # No event id: a resent close finds no scans left (they go in this same commit),
            # and a scan's row id may be reused once it is deleted.
        )
        if new:
            out.append(deposit_id)
    s.execute(delete(LoadRow).where(LoadRow.id.in_([p.id for p in pending])))
    return out
