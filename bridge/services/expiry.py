"""Hold-shelf expiry (docs/architecture.md, Expiry), run every few minutes by the scheduler.

The expiry date of each loaded item is the ILS's hold-shelf date where the ILS sent one
(check-in / item information), else the bank's ``hold_shelf_days`` after loading; it is stored
on the load when the item is scanned. :func:`run_expiry`:

1. ``reminder_hours`` before the expiry, one reminder per patron and bank;
2. at the expiry, the compartment goes ``loaded → expired → staff_remove`` (the staff removal
   list), the patron's codes for it stop working, and the patron is told;
3. retention and safety chores that share the beat: purge card numbers of old pickups, raise
   "door left open" alerts.

:func:`staff_remove` is the recorded staff action that empties such a compartment: the door
opens, each item is checked in again at the bank's branch so the ILS routes it (next hold,
home branch), and the compartment is free.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update

from bridge.infra import outbox
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime, current
from bridge.services.banks import audit, audit_events, load_bank, lock_bank, save_compartments
from bridge.services.doors.checks import check_open_doors
from bridge.services.doors.opening import open_door
from bridge.services.pickup import purge_picked_up
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow
from ils_adapters.base import IlsError
from lockers.states import CompartmentState

_S = CompartmentState


@dataclass(frozen=True)
class ExpiryReport:
    reminded: int = 0
    expired: tuple[tuple[str, int], ...] = ()  # (bank, compartment) put on the removal list
    purged: int = 0
    doors_left_open: int = 0


def run_expiry(rt: Runtime | None = None) -> ExpiryReport:
    """One pass over every bank; safe to run concurrently and repeatedly (idempotent)."""
    rt = rt or current()
    refs: list[str] = []
    reminded = 0
    expired: list[tuple[str, int]] = []
    for bank in rt.settings.banks:
        r, e, new_refs = _bank_pass(rt, bank.id, timedelta(hours=bank.reminder_hours))
        reminded += r
        expired += [(bank.id, n) for n in e]
        refs += new_refs
    for ref in refs:
        outbox.dispatch(rt, "notification", ref)
    return ExpiryReport(reminded, tuple(expired), purge_picked_up(rt), check_open_doors(rt))


def _bank_pass(rt: Runtime, bank_id: str, before: timedelta) -> tuple[int, list[int], list[str]]:
    now = rt.clock()
    settings = rt.settings.bank(bank_id)
    refs: list[str] = []
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        waiting = [
            ld
            for ld in state.loads
            if ld.kind == "hold" and ld.state == "loaded" and ld.expires_at is not None
        ]
        # 1. reminders, one per patron
        due: dict[str, list[LoadRow]] = defaultdict(list)
        for ld in waiting:
            assert ld.expires_at is not None
            if ld.reminded_at is None and ld.expires_at - before <= now < ld.expires_at:
                due[ld.patron_ref].append(ld)
        for patron_ref, loads in due.items():
            card = loads[0].patron
            expires = min(ld.expires_at for ld in loads if ld.expires_at)
            if card:
                ref = queue_message(
                    s,
                    MessageKind.REMINDER,
                    bank_id=bank_id,
                    patron=card,
                    event_key=f"reminder:{bank_id}:{patron_ref}:{expires.isoformat()}",
                    facts={
                        "titles": [ld.title or ld.item_barcode for ld in loads],
                        "doors": sorted({ld.compartment for ld in loads})
                        if settings.show_door_number
                        else [],
                        "expires": expires,
                        "bank_name": settings.name,
                    },
                    now=now,
                )
                if ref:
                    refs.append(ref)
            for ld in loads:
                ld.reminded_at = now
            audit(
                s, "pickup_reminder", at=now, bank_id=bank_id, subject=patron_ref, items=len(loads)
            )
        # 2. expiry, per compartment
        by_door: dict[int, list[LoadRow]] = defaultdict(list)
        for ld in waiting:
            by_door[ld.compartment].append(ld)
        events = []
        expired: list[int] = []
        for number, loads in sorted(by_door.items()):
            if any(ld.expires_at and ld.expires_at > now for ld in loads):
                continue
            if state.bank.compartment(number).state is not _S.LOADED:
                continue
            events.append(
                state.bank.transition(
                    number, _S.EXPIRED, at=now, actor="system", reason="hold-shelf date passed"
                )
            )
            events.append(
                state.bank.transition(
                    number, _S.STAFF_REMOVE, at=now, actor="system", reason="on the removal list"
                )
            )
            expired.append(number)
            for ld in loads:
                ld.state = "expired"
            patron_ref, card = loads[0].patron_ref, loads[0].patron
            s.execute(
                update(AccessGrantRow)
                .where(
                    AccessGrantRow.bank_id == bank_id,
                    AccessGrantRow.patron_ref == patron_ref,
                    AccessGrantRow.used_at.is_(None),
                    AccessGrantRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            if card:
                ref = queue_message(
                    s,
                    MessageKind.EXPIRED,
                    bank_id=bank_id,
                    patron=card,
                    event_key=f"expired:{bank_id}:{number}:{loads[0].id}",
                    facts={
                        "titles": [ld.title or ld.item_barcode for ld in loads],
                        "bank_name": settings.name,
                    },
                    now=now,
                )
                if ref:
                    refs.append(ref)
        save_compartments(state, now)
        audit_events(s, events, actor="system")
    return len(due), expired, refs


class Route(StrEnum):
    """Where a removed item goes now, by the ILS's check-in."""

    RESHELVE = "reshelve"  # nothing waits for it: reshelve it here
    SEND_TO = "send_to"  # to ``Routed.destination``
    NEW_HOLD_HERE = "new_hold_here"  # another hold here: scan it to load it again
    DESK_CHECKIN = "desk_checkin"  # the catalogue did not answer: check it in at the desk


@dataclass(frozen=True)
class Routed:
    item: str
    route: Route
    destination: str | None = None  # SEND_TO: where
    ils_error: str | None = None  # DESK_CHECKIN: what went wrong (an exception's name)


@dataclass(frozen=True)
class Removal:
    """What staff removed and where each item goes now (the ILS's routing). ``ok`` False: the
    door did not open (it is reported) and nothing changed."""

    compartment: int
    ok: bool
    items: tuple[Routed, ...] = field(default=())


class NotOnRemovalList(ValueError):
    """The compartment is not waiting for staff removal."""


def staff_remove(rt: Runtime, bank_id: str, compartment: int, actor: str) -> Removal:
    """Opens an expired compartment for staff, checks its items in at the bank's branch and
    frees it. Raises NotOnRemovalList, KeyError (unknown bank)."""
    bank = rt.settings.bank(bank_id)
    with unit_of_work(rt.sessions) as s:
        state = load_bank(s, bank_id)
        if compartment not in state.rows or state.rows[compartment].state not in (
            _S.STAFF_REMOVE.value,
            _S.EXPIRED.value,
        ):
            raise NotOnRemovalList(f"compartment {compartment} is not on the removal list")
        items = [ld.item_barcode for ld in state.loads_in(compartment)]
    opening = open_door(rt, bank_id, compartment, actor=actor)
    if not opening.ok:
        return Removal(compartment, False)
    adapter = adapter_for(rt, bank_id)
    routed: list[Routed] = []
    now = rt.clock()
    for item in items:
        try:
            outcome = adapter.checkin(item, at=bank.branch, returned_at=now)
        except IlsError as exc:
            routed.append(Routed(item, Route.DESK_CHECKIN, ils_error=type(exc).__name__))
            continue
        if outcome.kind.value == "hold_here":
            routed.append(Routed(item, Route.NEW_HOLD_HERE))
        elif outcome.destination:
            routed.append(Routed(item, Route.SEND_TO, outcome.destination))
        else:
            routed.append(Routed(item, Route.RESHELVE))
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        state = load_bank(s, bank_id)
        events = []
        current_state = state.bank.compartment(compartment).state
        if current_state is _S.EXPIRED:
            events.append(
                state.bank.transition(
                    compartment, _S.STAFF_REMOVE, at=now, actor=actor, reason="staff removal"
                )
            )
            current_state = _S.STAFF_REMOVE
        if current_state is _S.STAFF_REMOVE:
            events.append(
                state.bank.transition(
                    compartment, _S.FREE, at=now, actor=actor, reason="emptied by staff"
                )
            )
        for ld in s.scalars(
            select(LoadRow).where(
                LoadRow.bank_id == bank_id,
                LoadRow.compartment == compartment,
                LoadRow.kind == "hold",
            )
        ):
            audit(
                s,
                "staff_removed",
                at=now,
                bank_id=bank_id,
                compartment=compartment,
                actor=actor,
                subject=ld.patron_ref,
                item=ld.item_barcode,
                goes_to=next(
                    (r.destination or r.route.value for r in routed if r.item == ld.item_barcode),
                    None,
                ),
            )
            s.delete(ld)
        save_compartments(state, now)
        audit_events(s, events, actor=actor)
    return Removal(compartment, True, tuple(routed))
