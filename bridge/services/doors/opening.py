"""Opening a door through the bank's driver.

:func:`open_door` is how every flow opens a door. A door that fails to open is tried once more;
on its second failure the domain (``lockers.safety.SafetyMonitor``) takes the compartment out of
service and, if its items are not inside yet, moves the reservation to another door, which is
then opened instead. The controller being offline opens nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services.banks import (
    BankState,
    audit,
    audit_events,
    load_bank,
    lock_bank,
    save_compartments,
)
from bridge.services.wiring import driver_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow, CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from lockers.allocation import Allocation, NoFit, allocate, apply_allocation
from lockers.errors import ControllerOffline, DoorDidNotOpen
from lockers.events import LockerEvent
from lockers.safety import SafetyMonitor, SafetyPolicy

POLICY = SafetyPolicy()


@dataclass(frozen=True)
class DoorOpening:
    """How opening went. ``opened``: the door that is open now (after a move it differs from
    ``requested``); ``no_room``: the reservation could not be moved (staff-facing reason)."""

    requested: int
    opened: int | None
    failed: tuple[int, ...] = ()
    out_of_service: tuple[int, ...] = ()
    controller_offline: bool = False
    no_room: str | None = None

    @property
    def ok(self) -> bool:
        return self.opened is not None


@dataclass
class _Failure:
    out_of_service: bool = False
    moved_to: int | None = None
    no_room: str | None = None
    events: list[LockerEvent] = field(default_factory=list)


def open_door(rt: Runtime, bank_id: str, number: int, *, actor: str) -> DoorOpening:
    """Opens ``number`` (retrying and moving as the safety rules say). Never raises for
    hardware trouble: the answer says what happened, and the model already matches it."""
    driver = driver_for(rt, bank_id)
    current = number
    failed: list[int] = []
    oos: list[int] = []
    for _ in range(2 * POLICY.open_failures_before_out_of_service + 2):
        try:
            driver.open_door(current)
        except ControllerOffline as exc:
            _controller_offline(rt, bank_id, current, actor, str(exc))
            return DoorOpening(number, None, tuple(failed), tuple(oos), controller_offline=True)
        except DoorDidNotOpen as exc:
            failed.append(current)
            outcome = _record_failure(rt, bank_id, current, actor=actor, detail=exc.detail)
            if not outcome.out_of_service:
                continue
            oos.append(current)
            if outcome.moved_to is None:
                return DoorOpening(number, None, tuple(failed), tuple(oos), no_room=outcome.no_room)
            current = outcome.moved_to
            continue
        _record_opened(rt, bank_id, current)
        return DoorOpening(number, current, tuple(failed), tuple(oos))
    return DoorOpening(number, None, tuple(failed), tuple(oos))


def _record_opened(rt: Runtime, bank_id: str, number: int) -> None:
    with unit_of_work(rt.sessions) as s:
        s.execute(
            update(CompartmentRow)
            .where(
                CompartmentRow.bank_id == bank_id,
                CompartmentRow.number == number,
                CompartmentRow.open_failures > 0,
            )
            .values(open_failures=0)
        )


def _controller_offline(rt: Runtime, bank_id: str, number: int, actor: str, why: str) -> None:
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        s.execute(update(BankRow).where(BankRow.id == bank_id).values(controller_online=False))
        audit(
            s,
            "controller_offline",
            at=now,
            bank_id=bank_id,
            compartment=number,
            actor=actor,
            detail=why[:200],
        )


def _record_failure(rt: Runtime, bank_id: str, number: int, *, actor: str, detail: str) -> _Failure:
    now = rt.clock()
    result = _Failure()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        row = state.rows[number]
        # Items whose door never opened are not inside yet: these may move to another door.
        outside = [ld for ld in state.loads_in(number) if ld.state == "reserved"]
        monitor = SafetyMonitor(state.bank, POLICY)
        for _ in range(row.open_failures):  # failures counted in earlier requests
            monitor.door_failed_to_open(number, at=now, actor=actor)
        outcome = monitor.door_failed_to_open(number, at=now, actor=actor)
        events: list[LockerEvent] = list(outcome.events)
        result.out_of_service = outcome.out_of_service
        if outcome.out_of_service:
            row.open_failures = 0
            row.fault = f"door did not open ({detail or 'no reason given'})"[:200]
        else:
            row.open_failures += 1
        moved = outcome.moved
        if outcome.out_of_service and moved is None and outside:
            # The domain moves a whole reservation; items that were joining a door that
            # already holds the patron's loaded items are moved here, the loaded ones stay.
            moved = _move_outside(state, number, outside, now, actor, events)
        if moved is not None:
            _follow_move(s, state, number, outside, moved, result, now)
        save_compartments(state, now)
        audit_events(s, events, actor=actor)
    return result


def _move_outside(
    state: BankState,
    number: int,
    outside: list[LoadRow],
    at: datetime,
    actor: str,
    events: list[LockerEvent],
) -> Allocation | NoFit:
    barcodes = {ld.item_barcode for ld in outside}
    items = [c.item for c in state.bank.contents(number) if c.item.barcode in barcodes]
    found = allocate(state.bank, items, exclude={number})
    if isinstance(found, Allocation):
        expiries = [ld.expires_at for ld in outside if ld.expires_at is not None]
        events.extend(
            apply_allocation(
                state.bank, found, at=at, actor=actor, expires_at=min(expiries, default=None)
            )
        )
    return found


def _follow_move(
    s: Session,
    state: BankState,
    number: int,
    outside: list[LoadRow],
    moved: Allocation | NoFit,
    result: _Failure,
    at: datetime,
) -> None:
    """Makes the load rows follow the domain's move; items that fit nowhere are dropped from
    the model (the caller tells staff to use the hold shelf)."""
    placed: dict[str, int] = {}
    if isinstance(moved, Allocation):
        for placement in moved.placements:
            for item in placement.items:
                placed[item.barcode] = placement.compartment
        result.moved_to = moved.placements[0].compartment
        if moved.left_over is not None:
            result.no_room = moved.left_over.reason
    else:
        result.no_room = moved.reason
    for load in outside:
        if load.item_barcode in placed:
            load.compartment = placed[load.item_barcode]
        else:
            s.delete(load)
            audit(
                s,
                "load_abandoned",
                at=at,
                bank_id=state.bank.bank_id,
                compartment=number,
                actor="system",
                item=load.item_barcode,
                reason=result.no_room or "no other door fits",
            )
