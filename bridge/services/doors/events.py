"""What the controller reports about doors: :data:`HANDLERS` act on the driver events
(simulated, MQTT, or the HTTP webhook), each in one transaction; ``bridge.services.assembly``
registers them at start-up (``bridge.services.events``):

- door opened → remembered on the compartment row;
- door closed → finishes whatever the door was opened for: loading (compartment ``loaded``,
  access code issued, patron notified: ``bridge.services.doors.readiness``), pickup
  (compartment free, patron↔item link purged), equipment stocking, or a deposit
  (``bridge.services.deposits.add_deposit``, in the same transaction as the door's new state):
  ``bridge.services.doors.closing``;
- occupancy → compared with the model; a contradiction goes on the staff list;
- fault → the compartment (or the controller) is out of service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.services.banks import (
    BankState,
    audit,
    audit_events,
    load_bank,
    lock_bank,
    save_compartments,
)
from bridge.services.deposits import KIND as DEPOSIT_CHECKIN
from bridge.services.doors.closing import close_after_pickup, close_return_door, equipment_available
from bridge.services.doors.opening import POLICY
from bridge.services.doors.readiness import issue_and_notify
from bridge.services.doors.reopening import PICKUP_DOOR_OPENED
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow, CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from lockers.drivers.base import DoorClosed, DoorOpened, Fault, OccupancyChanged
from lockers.errors import IllegalTransition
from lockers.events import Discrepancy, LockerEvent
from lockers.model import Purpose
from lockers.safety import SafetyMonitor
from lockers.states import CompartmentState

log = logging.getLogger(__name__)
_S = CompartmentState


def _closed(rt: Runtime, event: DoorClosed) -> None:
    door_closed(rt, event.bank_id, event.compartment, event.at)


def _row(s: Session, bank_id: str, number: int) -> CompartmentRow:
    row = s.scalars(
        select(CompartmentRow).where(
            CompartmentRow.bank_id == bank_id, CompartmentRow.number == number
        )
    ).one_or_none()
    if row is None:
        raise KeyError(number)
    return row


# Controllers resend an event until they see our answer, so a resend can arrive after a later
# event of the same door. Only the controller's own times are compared (never our clock), and
# only strictly earlier events are stale: two events in the same instant are both real.
def _stale_open(row: CompartmentRow, at: datetime) -> bool:
    return not row.door_open and row.door_closed_at is not None and at < row.door_closed_at


def _stale_close(row: CompartmentRow, at: datetime) -> bool:
    return row.door_open and row.door_opened_at is not None and at < row.door_opened_at


def _door_opened(rt: Runtime, event: DoorOpened) -> None:
    with unit_of_work(rt.sessions) as s:
        # The bank first, as every use case on the bank takes it: locking the door's row and
        # then the bank's (below) deadlocked on PostgreSQL with staff freeing that door.
        lock_bank(s, event.bank_id)
        row = _row(s, event.bank_id, event.compartment)
        if _stale_open(row, event.at):
            log.info("stale door-opened ignored: %s door %s", event.bank_id, event.compartment)
            return
        if row.state == _S.PICKED_UP.value and not row.door_open:
            # The patron's door really opened: a handover cut short before this point may be
            # resumed (bridge.services.pickup), one after it may not open the door again.
            audit(
                s,
                PICKUP_DOOR_OPENED,
                at=event.at,
                bank_id=event.bank_id,
                compartment=event.compartment,
                actor="controller",
            )
        row.door_open, row.door_opened_at = True, event.at
        # A return scan whose door really opened may have an item behind it from now on: it
        # is no longer one the sweeper may drop (bridge.services.deposits.release_abandoned).
        s.execute(
            update(LoadRow)
            .where(
                LoadRow.bank_id == event.bank_id,
                LoadRow.compartment == event.compartment,
                LoadRow.kind == "deposit",
                LoadRow.state == "reserved",
            )
            .values(state="open")
        )
        s.execute(
            update(BankRow)
            .where(BankRow.id == event.bank_id)
            .values(controller_online=True, controller_seen_at=event.at)
        )


def door_closed(rt: Runtime, bank_id: str, number: int, at: datetime) -> None:
    """Finishes what the door was opened for (see the module docstring)."""
    refs: list[str] = []
    deposits: list[int] = []
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        row = state.rows.get(number)
        if row is None:
            raise KeyError(number)
        if _stale_close(row, at):
            log.info("stale door-closed event ignored: %s door %s", bank_id, number)
            return
        row.door_open, row.door_opened_at, row.door_closed_at = False, None, at
        compartment = state.bank.compartment(number)
        fresh = [ld for ld in state.loads_in(number) if ld.state == "reserved"]
        events: list[LockerEvent] = []
        if compartment.purpose is Purpose.RETURN:
            deposits = close_return_door(s, state, number, at, events, now=rt.clock())
        elif fresh and compartment.state in (_S.RESERVED, _S.LOADED):
            if compartment.state is _S.RESERVED:
                events.append(
                    state.bank.transition(number, _S.LOADED, at=at, actor="staff", reason="loaded")
                )
            for load in fresh:
                load.state, load.loaded_at = "loaded", at
            ref = issue_and_notify(rt, s, state, number, fresh, at)
            if ref:
                refs.append(ref)
            equipment_available(s, fresh, number)
        elif compartment.state is _S.PICKED_UP:
            close_after_pickup(rt, s, state, number, at, events)
        found = _reading_contradicts(state, number, at)
        if found is not None:
            events.append(found)
        save_compartments(state, at)
        audit_events(s, events, actor="controller")
    # Committed: now, and only now, hand the work to the workers (the sweeper does it if this
    # process dies here).
    for ref in refs:
        outbox.dispatch(rt, "notification", ref)
    for deposit_id in deposits:
        outbox.dispatch(rt, DEPOSIT_CHECKIN, str(deposit_id))


def _reading_contradicts(state: BankState, number: int, at: datetime) -> Discrepancy | None:
    """The door has just shut: does the last occupancy reading match what the model says is
    inside? (Readings taken while the door was open are judged here, once it is shut.)"""
    row = state.rows[number]
    if row.occupied is None:
        return None  # no sensor, or it never reported
    return SafetyMonitor(state.bank, POLICY).occupancy_reported(number, row.occupied, at)


def _occupancy(rt: Runtime, event: OccupancyChanged) -> None:
    """Stores the reading (the staff work list compares it with the state); a reading with
    the door shut that contradicts the model is audited once per change of reading."""
    with unit_of_work(rt.sessions) as s:
        state = load_bank(s, event.bank_id)
        row = state.rows.get(event.compartment)
        if row is None:
            raise KeyError(event.compartment)
        changed = row.occupied is not event.occupied
        row.occupied = event.occupied
        monitor = SafetyMonitor(state.bank, POLICY)
        if row.door_open:
            monitor.door_opened(event.compartment, row.door_opened_at or event.at)
        found = monitor.occupancy_reported(event.compartment, event.occupied, event.at)
        if found is not None and changed:
            audit_events(s, [found], actor="controller")


def _fault(rt: Runtime, event: Fault) -> None:
    with unit_of_work(rt.sessions) as s:
        if event.compartment is None:
            if event.code == "offline":
                s.execute(
                    update(BankRow)
                    .where(BankRow.id == event.bank_id)
                    .values(controller_online=False)
                )
            elif event.code == "recovered":
                # The controller answers again (a lock board's poller says so): the bank is
                # back without waiting for a door to open.
                s.execute(
                    update(BankRow)
                    .where(BankRow.id == event.bank_id)
                    .values(controller_online=True, controller_seen_at=event.at)
                )
            audit(
                s,
                "controller_fault",
                at=event.at,
                bank_id=event.bank_id,
                actor="controller",
                code=event.code,
                detail=event.detail[:200],
            )
            return
        if event.code == "jammed":
            # The failed open command is counted by open_door; this report is its echo.
            audit(
                s,
                "controller_fault",
                at=event.at,
                bank_id=event.bank_id,
                compartment=event.compartment,
                actor="controller",
                code=event.code,
            )
            return
        lock_bank(s, event.bank_id)
        state = load_bank(s, event.bank_id)
        row = state.rows.get(event.compartment)
        if row is None:
            raise KeyError(event.compartment)
        try:
            changed = state.bank.transition(
                event.compartment,
                _S.OUT_OF_SERVICE,
                at=event.at,
                actor="controller",
                reason=f"fault {event.code}",
            )
        except IllegalTransition:
            return  # already out of service
        row.fault = f"{event.code}: {event.detail}"[:200]
        save_compartments(state, event.at)
        audit_events(s, [changed], actor="controller")


# The handlers of this module by event type; ``bridge.services.assembly`` registers them at start-up
# (``bridge.services.events``). Card reads belong to ``bridge.services.access.readers``.
HANDLERS: dict[type, Callable[[Runtime, Any], object]] = {
    DoorOpened: _door_opened,
    DoorClosed: _closed,
    OccupancyChanged: _occupancy,
    Fault: _fault,
}
