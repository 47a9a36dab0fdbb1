"""Doors: opening them through the bank's driver, and what the controller reports back.

:func:`open_door` is how every flow opens a door. A door that fails to open is tried once more;
on its second failure the domain (``lockers.safety.SafetyMonitor``) takes the compartment out of
service and, if its items are not inside yet, moves the reservation to another door, which is
then opened instead. The controller being offline opens nothing and changes nothing.

:data:`HANDLERS` act on the driver events (simulated, MQTT, or the HTTP webhook), each in one
transaction; ``bridge.services.assembly`` registers them at start-up (``bridge.services.events``):

- door opened → remembered on the compartment row;
- door closed → finishes whatever the door was opened for: loading (compartment ``loaded``,
  access code issued, patron notified), pickup (compartment free, patron↔item link purged),
  equipment stocking, or a deposit (``bridge.services.deposits.add_deposit``, in the same
  transaction as the door's new state);
- occupancy → compared with the model; a contradiction goes on the staff list;
- fault → the compartment (or the controller) is out of service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bridge.config import BankSettings
from bridge.infra import outbox
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime, current
from bridge.services.access.links import issue_link
from bridge.services.banks import (
    BankState,
    SqlGrantStore,
    access_codes,
    audit,
    audit_events,
    load_bank,
    lock_bank,
    save_compartments,
)
from bridge.services.deposits import KIND as DEPOSIT_CHECKIN
from bridge.services.deposits import add_deposit
from bridge.services.wiring import driver_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, BankRow, CompartmentRow
from bridge.storage.tables.lockers import EquipmentRow, LoadRow
from lockers.access import IssuedAccess
from lockers.allocation import Allocation, NoFit, allocate, apply_allocation
from lockers.drivers.base import (
    DoorClosed,
    DoorOpened,
    Fault,
    OccupancyChanged,
)
from lockers.errors import ControllerOffline, DoorDidNotOpen, IllegalTransition
from lockers.events import Discrepancy, LockerEvent
from lockers.model import Purpose
from lockers.safety import SafetyMonitor, SafetyPolicy
from lockers.states import EXPECTED_OCCUPANCY, CompartmentState

log = logging.getLogger(__name__)
_S = CompartmentState
PICKUP_DOOR_OPENED = "pickup_door_opened"
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


# --- events from the controller -----------------------------------------------------------


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


def opened_for_pickup_since(s: Session, bank_id: str, number: int, since: datetime) -> bool:
    """Whether the controller reported door ``number`` opened on a ``picked_up`` door since
    ``since`` (audit ``pickup_door_opened``): a handover or loan whose door has opened once
    never opens it again."""
    return (
        s.scalar(
            select(AuditEventRow.id).where(
                AuditEventRow.kind == PICKUP_DOOR_OPENED,
                AuditEventRow.bank_id == bank_id,
                AuditEventRow.compartment == number,
                AuditEventRow.at >= since,
            )
        )
        is not None
    )


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
            deposits = _close_return_door(s, state, number, at, events, now=rt.clock())
        elif fresh and compartment.state in (_S.RESERVED, _S.LOADED):
            if compartment.state is _S.RESERVED:
                events.append(
                    state.bank.transition(number, _S.LOADED, at=at, actor="staff", reason="loaded")
                )
            for load in fresh:
                load.state, load.loaded_at = "loaded", at
            ref = _issue_and_notify(rt, s, state, number, fresh, at)
            if ref:
                refs.append(ref)
            _equipment_available(s, fresh, number)
        elif compartment.state is _S.PICKED_UP:
            _close_after_pickup(rt, s, state, number, at, events)
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


def ready_facts(
    bank: BankSettings,
    loads: Sequence[LoadRow],
    doors: Sequence[int],
    issued: IssuedAccess,
    expires: datetime,
) -> dict[str, Any]:
    """What a "ready for pickup" message says: the first one and a re-issued one alike."""
    return {
        "titles": [ld.title or ld.item_barcode for ld in loads],
        "items": len(loads),
        "doors": list(doors) if bank.show_door_number else [],
        "code": issued.typed_code,
        "qr_token": issued.qr_token,
        "expires": expires,
        "bank_name": bank.name,
        "address": bank.address,
        "hours": bank.hours,
    }


def _issue_and_notify(
    rt: Runtime, s: Session, state: BankState, number: int, loads: list[LoadRow], at: datetime
) -> str | None:
    """Typed code + QR for the patron's newly loaded items, and the ready-for-pickup message.

    When the items were moved here because the door they were meant for went out of service
    and the patron already holds a code naming that door, that code is revoked and the new
    one (and the message) covers everything of theirs waiting behind working doors."""
    holds = [ld for ld in loads if ld.kind == "hold" and ld.patron]
    if not holds:
        return None

    bank_id = state.bank.bank_id
    bank = rt.settings.bank(bank_id)
    patron_ref = holds[0].patron_ref
    card = holds[0].patron or ""
    codes = access_codes(rt, s)
    broken = {n for n, r in state.rows.items() if r.state == _S.OUT_OF_SERVICE.value}
    stale = [
        g
        for g in SqlGrantStore(s).of_patron(bank_id, patron_ref, at)
        if broken.intersection(g.compartments)
    ]
    doors: tuple[int, ...] = (number,)
    if stale:
        for grant in stale:
            codes.revoke(grant, at)
            audit(
                s,
                "access_revoked",
                at=at,
                bank_id=bank_id,
                compartment=number,
                actor="system",
                subject=patron_ref,
                grant=grant.grant_id,
                reason="door out of service; items moved",
                doors=sorted(broken.intersection(grant.compartments)),
            )
        holds += [
            ld
            for ld in state.loads
            if ld.patron_ref == patron_ref
            and ld.kind == "hold"
            and ld.state == "loaded"
            and ld.compartment not in broken
            and ld.compartment != number
        ]
        doors = tuple(sorted({ld.compartment for ld in holds}))
    expires = min(ld.expires_at or at + timedelta(days=bank.hold_shelf_days) for ld in holds)
    issued = codes.issue(
        bank_id=bank_id,
        patron_ref=patron_ref,
        compartments=doors,
        now=at,
        expires_at=expires,
        card_number=card,
    )
    audit(
        s,
        "access_issued",
        at=at,
        bank_id=bank_id,
        compartment=number,
        actor="system",
        subject=patron_ref,
        grant=issued.grant.grant_id,
        expires=expires.isoformat(),
    )
    phone_url = issue_link(
        rt,
        s,
        bank_id=bank_id,
        patron_ref=patron_ref,
        expires_at=expires,
        now=at,
        grant_id=issued.grant.grant_id,
    )
    facts = ready_facts(bank, holds, doors, issued, expires)
    facts["phone_url"] = phone_url  # secret like the code; None without access.public_url
    if stale:
        facts["moved"] = True  # templates may say "your items are now behind another door"
    return queue_message(
        s,
        MessageKind.READY_FOR_PICKUP,
        bank_id=bank_id,
        patron=card,
        event_key=f"ready:{issued.grant.grant_id}",
        facts=facts,
        now=at,
    )


def _equipment_available(s: Session, loads: list[LoadRow], number: int) -> None:
    for load in loads:
        if load.kind == "equipment":
            s.execute(
                update(EquipmentRow)
                .where(EquipmentRow.item_barcode == load.item_barcode)
                .values(state="available", compartment=number)
            )


def _close_after_pickup(
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


def _close_return_door(
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


# --- staff --------------------------------------------------------------------------------


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
