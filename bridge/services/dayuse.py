"""Day-use lockers: compartments set aside for patrons to reserve for a few hours.

``[dayuse] compartments = {"<bank>" = [numbers]}`` names the doors. They are kept out of the
hold and equipment allocation by holding them out of service with the fault
:data:`SET_ASIDE` (:func:`set_aside`, re-applied before every use and by the periodic job), so
the status page shows why; their reservations live in ``dayuse_reservation``.

:func:`use` is the one patron entry (kiosk, or phone with the presence code): card + PIN are
checked with the ILS under the same guessing limits as a pickup; a blocked or expired card
cannot reserve; a patron with a live reservation here gets the door opened again (open and
close freely within the window); otherwise a free day-use door is reserved for ``hours``
(at most ``max_hours``, at most ``per_patron`` live reservations) and opened. :func:`finish`
ends the reservation and then opens the door one last time; finishing again within
:data:`FINISH_GRACE` opens it once more while nobody else has reserved it (how a finish whose
door never opened, the process having died after the reservation ended, is completed).
:func:`run_dayuse` (periodic) sends the reminder ``reminder_minutes`` before the end and expires
what ran out; an expired door stays set aside and appears on the staff overview until staff
empty it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.infra import outbox
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime, current
from bridge.services.access.attempts import InFlight
from bridge.services.access.verification import Verdict, verify_card
from bridge.services.banks import (
    UnknownBank,
    audit,
    load_bank,
    lock_bank,
    pseudonym,
    put_out_of_service,
    save_compartments,
)
from bridge.services.doors.opening import open_door
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import DayUseRow
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from lockers.states import CompartmentState

SET_ASIDE = "set aside for day use"


class DayUseOutcome(StrEnum):
    RESERVED = "reserved"  # a new reservation; its door is open
    OPENED = "opened"  # the patron's reservation here; the door opened again
    FINISHED = "finished"
    NONE_FREE = "none_free"
    OVER_LIMIT = "over_limit"
    DENIED = "denied"
    BLOCKED = "blocked"
    LOCKED_OUT = "locked_out"
    ILS_UNAVAILABLE = "ils_unavailable"
    NOT_OFFERED = "not_offered"
    NO_RESERVATION = "no_reservation"
    DOOR_FAILED = "door_failed"


class DayUseLimit(StrEnum):
    """Which limit an OVER_LIMIT reservation broke."""

    HOURS = "hours"  # more hours than ``dayuse.max_hours``
    PER_PATRON = "per_patron"  # the patron already holds ``dayuse.per_patron``


@dataclass(frozen=True)
class DayUseResult:
    outcome: DayUseOutcome
    compartment: int | None = None
    ends_at: datetime | None = None
    limit: DayUseLimit | None = None  # OVER_LIMIT: which one
    # BLOCKED: why, in the ILS's words (for staff, never for the kiosk screen).
    block_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DayUseView:
    """A line of the staff overview (no card numbers)."""

    id: int
    bank_id: str
    compartment: int
    patron_ref: str
    starts_at: datetime
    ends_at: datetime
    state: str
    via: str
    reminded: bool


def doors_of(rt: Runtime, bank_id: str) -> list[int]:
    return list(rt.settings.dayuse.compartments.get(bank_id, []))


def set_aside(rt: Runtime) -> int:
    """Holds every configured day-use door that is free out of service; returns how many."""
    changed = 0
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        for bank_id, numbers in rt.settings.dayuse.compartments.items():
            try:
                lock_bank(s, bank_id)
                state = load_bank(s, bank_id)
            except UnknownBank:
                continue  # configured for day use, not (yet) synced from the configuration
            busy = set(
                s.scalars(
                    select(LoadRow.compartment).where(
                        LoadRow.bank_id == bank_id, LoadRow.compartment.in_(numbers)
                    )
                )
            )
            for compartment in list(state.bank.compartments()):
                number = compartment.number
                if number not in numbers or number in busy:
                    continue
                if compartment.state is not CompartmentState.FREE:
                    continue
                put_out_of_service(
                    s,
                    state,
                    number,
                    fault=SET_ASIDE,
                    kind="compartment_set_aside",
                    at=now,
                    actor="configuration",
                )
                changed += 1
            save_compartments(state, now)
    return changed


def _verify(rt: Runtime, bank_id: str, card: str, pin: str, kiosk: str) -> DayUseResult | None:
    """None when card + PIN are right and the card may borrow; else the refusal."""

    verified = verify_card(rt, bank_id, card, pin, kiosk=kiosk, via="dayuse")
    if not verified.ok:
        outcome = {
            Verdict.DENIED: DayUseOutcome.DENIED,
            Verdict.ILS_UNAVAILABLE: DayUseOutcome.ILS_UNAVAILABLE,
        }.get(verified.verdict, DayUseOutcome.LOCKED_OUT)
        return DayUseResult(outcome)
    check, ref = verified.check, verified.patron_ref
    assert check is not None and ref is not None
    with unit_of_work(rt.sessions) as s:
        if check.blocked:
            reasons = "; ".join(check.block_reasons) or check.screen_message or "card blocked"
            audit(
                s,
                "dayuse_refused",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                reason="blocked",
                reasons=reasons[:200],
            )
            said = tuple(check.block_reasons) or tuple(filter(None, [check.screen_message]))
            return DayUseResult(DayUseOutcome.BLOCKED, block_reasons=said)
    return None


def use(
    rt: Runtime,
    bank_id: str,
    card: str,
    pin: str,
    *,
    hours: int = 1,
    via: str = "kiosk",
    kiosk: str = "kiosk",
) -> DayUseResult:
    """Reserve a day-use door (or open the patron's own again). See the module docstring."""
    rt.settings.bank(bank_id)
    if not doors_of(rt, bank_id):
        return DayUseResult(DayUseOutcome.NOT_OFFERED)
    card = card.strip()
    ref = pseudonym(rt, card)
    refused = _verify(rt, bank_id, card, pin, kiosk)
    if refused is not None:
        return refused
    set_aside(rt)
    # The patron's own door opens again without the in-flight mark: nothing new is reserved,
    # and a mark left by a process that died after reserving must not keep them out.
    again = _open_again(rt, bank_id, ref, via)
    if again is not None:
        return again
    with InFlight(rt.redis, f"dayuse:{ref}") as flight:
        if not flight.held:
            return DayUseResult(DayUseOutcome.LOCKED_OUT)  # busy with this card right now
        return _reserve_and_open(rt, bank_id, card, ref, hours, via)


def _reserve_and_open(
    rt: Runtime, bank_id: str, card: str, ref: str, hours: int, via: str
) -> DayUseResult:
    """Under the bank's lock (one door to one patron) and, around it, the patron's in-flight
    mark (``per_patron`` counts all banks together)."""

    conf = rt.settings.dayuse
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        live = list(
            s.scalars(
                select(DayUseRow).where(DayUseRow.patron_ref == ref, DayUseRow.state == "active")
            )
        )
        mine = next((r for r in live if r.bank_id == bank_id), None)
        if mine is not None:
            number, ends = _opened_again(s, mine, now, via)
            outcome = DayUseOutcome.OPENED
        else:
            if hours < 1 or hours > conf.max_hours:
                audit(
                    s,
                    "dayuse_refused",
                    at=now,
                    bank_id=bank_id,
                    actor="patron",
                    subject=ref,
                    reason="too_long",
                    hours=hours,
                )
                return DayUseResult(DayUseOutcome.OVER_LIMIT, limit=DayUseLimit.HOURS)
            if len(live) >= conf.per_patron:
                audit(
                    s,
                    "dayuse_refused",
                    at=now,
                    bank_id=bank_id,
                    actor="patron",
                    subject=ref,
                    reason="per_patron",
                    live=len(live),
                )
                return DayUseResult(DayUseOutcome.OVER_LIMIT, limit=DayUseLimit.PER_PATRON)
            taken = set(
                s.scalars(
                    select(DayUseRow.compartment).where(
                        DayUseRow.bank_id == bank_id, DayUseRow.state.in_(("active", "expired"))
                    )
                )
            )
            usable = set(
                s.scalars(
                    select(CompartmentRow.number).where(
                        CompartmentRow.bank_id == bank_id,
                        CompartmentRow.number.in_(doors_of(rt, bank_id)),
                        CompartmentRow.fault == SET_ASIDE,
                    )
                )
            )
            free = sorted(usable - taken)
            if not free:
                audit(
                    s,
                    "dayuse_refused",
                    at=now,
                    bank_id=bank_id,
                    actor="patron",
                    subject=ref,
                    reason="none_free",
                )
                return DayUseResult(DayUseOutcome.NONE_FREE)
            number, ends, outcome = free[0], now + timedelta(hours=hours), DayUseOutcome.RESERVED
            s.add(
                DayUseRow(
                    bank_id=bank_id,
                    compartment=number,
                    patron=card,
                    patron_ref=ref,
                    starts_at=now,
                    ends_at=ends,
                    state="active",
                    via=via,
                    opened_count=1,
                )
            )
            audit(
                s,
                "dayuse_reserved",
                at=now,
                bank_id=bank_id,
                compartment=number,
                actor="patron",
                subject=ref,
                via=via,
                until=ends.isoformat(),
            )
    return _open(rt, bank_id, number, ends, outcome)


def _opened_again(s: Session, mine: DayUseRow, now: datetime, via: str) -> tuple[int, datetime]:
    mine.opened_count += 1
    audit(
        s,
        "dayuse_opened",
        at=now,
        bank_id=mine.bank_id,
        compartment=mine.compartment,
        actor="patron",
        subject=mine.patron_ref,
        via=via,
    )
    return mine.compartment, mine.ends_at


def _open_again(rt: Runtime, bank_id: str, ref: str, via: str) -> DayUseResult | None:
    """Opens the patron's live reservation's door here again; None when there is none."""
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        mine = s.scalars(
            select(DayUseRow).where(
                DayUseRow.bank_id == bank_id,
                DayUseRow.patron_ref == ref,
                DayUseRow.state == "active",
            )
        ).first()
        if mine is None:
            return None
        number, ends = _opened_again(s, mine, rt.clock(), via)
    return _open(rt, bank_id, number, ends, DayUseOutcome.OPENED)


def _open(
    rt: Runtime, bank_id: str, number: int, ends: datetime, outcome: DayUseOutcome
) -> DayUseResult:
    opening = open_door(rt, bank_id, number, actor="patron")
    if not opening.ok:
        return DayUseResult(DayUseOutcome.DOOR_FAILED, number, ends)
    return DayUseResult(outcome, number, ends)


FINISH_GRACE = timedelta(minutes=10)


def _just_finished(s: Session, bank_id: str, ref: str, now: datetime) -> int | None:
    """The door of the patron's reservation here that ended within :data:`FINISH_GRACE`, when
    nobody has reserved that door since."""
    row = s.scalars(
        select(DayUseRow)
        .where(
            DayUseRow.bank_id == bank_id,
            DayUseRow.patron_ref == ref,
            DayUseRow.state == "ended",
            DayUseRow.ended_at >= now - FINISH_GRACE,
        )
        .order_by(DayUseRow.ended_at.desc())
    ).first()
    if row is None or row.ended_at is None:
        return None
    later = s.scalars(
        select(DayUseRow.id).where(
            DayUseRow.bank_id == bank_id,
            DayUseRow.compartment == row.compartment,
            DayUseRow.starts_at >= row.ended_at,
        )
    ).first()
    return row.compartment if later is None else None


def finish(rt: Runtime, bank_id: str, card: str, pin: str, *, kiosk: str = "kiosk") -> DayUseResult:
    """Ends the patron's day-use reservation and opens its door one last time (once more when
    the patron finishes again within :data:`FINISH_GRACE`; see the module docstring)."""

    refused = _verify(rt, bank_id, card.strip(), pin, kiosk)
    if refused is not None:
        return refused
    ref = pseudonym(rt, card)
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(
            select(DayUseRow).where(
                DayUseRow.bank_id == bank_id,
                DayUseRow.patron_ref == ref,
                DayUseRow.state == "active",
            )
        ).first()
        again = _just_finished(s, bank_id, ref, now) if row is None else None
        if row is None and again is None:
            return DayUseResult(DayUseOutcome.NO_RESERVATION)
        if row is not None:
            row.state, row.ended_at, row.patron = "ended", now, None
            number = row.compartment
        else:
            assert again is not None
            number = again
        audit(
            s,
            "dayuse_finished" if row is not None else "dayuse_finish_reopened",
            at=now,
            bank_id=bank_id,
            compartment=number,
            actor="patron",
            subject=ref,
        )
    open_door(rt, bank_id, number, actor="patron")
    return DayUseResult(DayUseOutcome.FINISHED, number)


def run_dayuse(rt: Runtime | None = None) -> dict[str, int]:
    """Periodic: reminders before the end, expiry after it. Returns counts."""

    rt = rt or current()
    set_aside(rt)
    now = rt.clock()
    soon = now + timedelta(minutes=rt.settings.dayuse.reminder_minutes)
    refs: list[str] = []
    counts = {"reminded": 0, "expired": 0}
    with unit_of_work(rt.sessions) as s:
        for row in s.scalars(select(DayUseRow).where(DayUseRow.state == "active")):
            bank = rt.settings.bank(row.bank_id)
            if row.ends_at <= now:
                row.state, row.ended_at, row.patron = "expired", now, None
                audit(
                    s,
                    "dayuse_expired",
                    at=now,
                    bank_id=row.bank_id,
                    compartment=row.compartment,
                    actor="system",
                    subject=row.patron_ref,
                )
                counts["expired"] += 1
            elif row.ends_at <= soon and row.reminded_at is None and row.patron:
                row.reminded_at = now
                ref = queue_message(
                    s,
                    MessageKind.DAYUSE_ENDING,
                    bank_id=row.bank_id,
                    patron=row.patron,
                    event_key=f"dayuse:{row.id}",
                    facts={
                        "doors": [row.compartment] if bank.show_door_number else [],
                        "ends_at": row.ends_at,
                    },
                    now=now,
                )
                if ref:
                    refs.append(ref)
                counts["reminded"] += 1
    for ref in refs:
        outbox.dispatch(rt, "notification", ref)
    return counts


def emptied(rt: Runtime, reservation_id: int, *, actor: str) -> bool:
    """Staff emptied an expired day-use door: it is free for the next patron."""
    with unit_of_work(rt.sessions) as s:
        row = s.get(DayUseRow, reservation_id)
        if row is None or row.state != "expired":
            return False
        row.state = "cleared"
        audit(
            s,
            "dayuse_cleared",
            at=rt.clock(),
            bank_id=row.bank_id,
            compartment=row.compartment,
            actor=actor,
        )
    return True


def overview(rt: Runtime, bank_id: str | None = None) -> list[DayUseView]:
    """Live and expired (not yet emptied) reservations, soonest end first."""
    with unit_of_work(rt.sessions) as s:
        q = select(DayUseRow).where(DayUseRow.state.in_(("active", "expired")))
        if bank_id:
            q = q.where(DayUseRow.bank_id == bank_id)
        return [
            DayUseView(
                r.id,
                r.bank_id,
                r.compartment,
                r.patron_ref,
                r.starts_at,
                r.ends_at,
                r.state,
                r.via,
                r.reminded_at is not None,
            )
            for r in s.scalars(q.order_by(DayUseRow.ends_at))
        ]
