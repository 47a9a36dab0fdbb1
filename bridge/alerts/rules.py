"""The alert rules: each looks at the stored state and names the conditions that hold now.

A condition's ``key`` says what it is about (the rule plus bank, door...), so the same
condition seen on every check stays one alert; its ``summary`` is the sentence staff read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.notify.staff import NEEDS_STAFF as FAILED_MESSAGE_STATES
from bridge.storage.tables.core import AuditEventRow, BankRow, CompartmentRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.offline import OfflineLoanRow
from bridge.storage.tables.returns import DepositRow

CRITICAL = "critical"
WARNING = "warning"

# Deposits the ILS has not yet confirmed (the returns service's own states).
PENDING_DEPOSITS = ("recorded", "checking_in", "waiting_for_ils")
# Written by the patron verification when a bank's code-guessing budget is being spent.
GUESSING_EVENTS = ("code_guessing_alert",)


@dataclass(frozen=True)
class Condition:
    key: str
    rule: str
    severity: str
    bank_id: str | None
    compartment: int | None
    summary: str


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _name(settings: Settings, bank_id: str) -> str:
    try:
        return settings.bank(bank_id).name
    except KeyError:
        return bank_id


def doors_left_open(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    out = []
    rows = s.execute(
        select(CompartmentRow.bank_id, CompartmentRow.number, CompartmentRow.door_opened_at)
        .where(CompartmentRow.door_open.is_(True), CompartmentRow.door_opened_at.is_not(None))
        .order_by(CompartmentRow.bank_id, CompartmentRow.number)
    ).all()
    for bank_id, number, opened_at in rows:
        try:
            after = settings.bank(bank_id).door_open_alert_seconds
        except KeyError:
            continue
        if opened_at is not None and now - opened_at >= timedelta(seconds=after):
            out.append(
                Condition(
                    f"door_open:{bank_id}:{number}",
                    "door_open",
                    WARNING,
                    bank_id,
                    number,
                    f"Door {number} at {_name(settings, bank_id)} has been open for more than "
                    f"{_minutes(after)}.",
                )
            )
    return out


def controllers_offline(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    grace = timedelta(seconds=settings.alerts.controller_offline_seconds)
    out = []
    for bank in s.scalars(select(BankRow).where(BankRow.controller_online.is_(False))):
        if bank.controller_seen_at is not None and now - bank.controller_seen_at < grace:
            continue
        out.append(
            Condition(
                f"controller_offline:{bank.id}",
                "controller_offline",
                CRITICAL,
                bank.id,
                None,
                f"The door controller of {bank.name} is not answering: its doors cannot open.",
            )
        )
    return out


def deposits_waiting(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    minutes = settings.alerts.deposits_waiting_minutes
    rows = s.execute(
        select(DepositRow.bank_id, func.count())
        .where(
            DepositRow.state.in_(PENDING_DEPOSITS),
            DepositRow.deposited_at <= now - timedelta(minutes=minutes),
        )
        .group_by(DepositRow.bank_id)
        .order_by(DepositRow.bank_id)
    ).all()
    out = []
    for bank_id, count in rows:
        what = "1 return has" if count == 1 else f"{count} returns have"
        out.append(
            Condition(
                f"deposits_waiting:{bank_id}",
                "deposits_waiting",
                WARNING,
                bank_id,
                None,
                f"{what} waited more than {_minutes(minutes * 60)} at "
                f"{_name(settings, bank_id)} for the catalogue to check them in.",
            )
        )
    return out


def banks_full(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    """A bank whose pickup doors (day-use doors aside) are all taken, or whose return doors
    take no more returns (a bin takes ``capacity`` of them before it is full)."""
    dayuse = {(b, n) for b, numbers in settings.dayuse.compartments.items() for n in numbers}
    doors: dict[tuple[str, str], list[bool]] = {}
    for bank_id, number, purpose, state, deposits, capacity in s.execute(
        select(
            CompartmentRow.bank_id,
            CompartmentRow.number,
            CompartmentRow.purpose,
            CompartmentRow.state,
            CompartmentRow.deposits,
            CompartmentRow.capacity,
        )
    ):
        if purpose == "pickup" and (bank_id, number) not in dayuse:
            room = state == "free"
        elif purpose == "return":
            room = state in ("return_free", "return_occupied") and deposits < capacity
        else:
            continue
        doors.setdefault((bank_id, purpose), []).append(room)
    out = []
    for (bank_id, purpose), free in sorted(doors.items()):
        if any(free):
            continue
        what = "pickup doors are" if purpose == "pickup" else "return doors are"
        out.append(
            Condition(
                f"bank_full:{bank_id}:{purpose}",
                "bank_full",
                WARNING,
                bank_id,
                None,
                f"All {what} in use at {_name(settings, bank_id)}.",
            )
        )
    return out


def guessing(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    since = now - timedelta(hours=settings.alerts.guessing_window_hours)
    rows = s.execute(
        select(AuditEventRow.bank_id, func.count())
        .where(AuditEventRow.kind.in_(GUESSING_EVENTS), AuditEventRow.at >= since)
        .group_by(AuditEventRow.bank_id)
        .order_by(AuditEventRow.bank_id)
    ).all()
    return [
        Condition(
            f"guessing:{bank_id}",
            "guessing",
            CRITICAL,
            bank_id,
            None,
            f"Many wrong pickup codes were typed at {_name(settings, bank_id)}: someone may "
            "be guessing codes. Codes are refused there once the day's budget is spent.",
        )
        for bank_id, _count in rows
        if bank_id
    ]


def notification_failures(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    count = s.scalar(
        select(func.count())
        .select_from(NotificationRow)
        .where(NotificationRow.state.in_(FAILED_MESSAGE_STATES))
    )
    if not count:
        return []
    what = "1 patron message" if count == 1 else f"{count} patron messages"
    return [
        Condition(
            "notification_failures",
            "notification_failures",
            WARNING,
            None,
            None,
            f"{what} did not reach the patron; see the work list.",
        )
    ]


def offline_loans_refused(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    """Loans made while the ILS was down that it refused afterwards: the patron has the item
    and the ILS does not know; staff must sort it out."""
    count = s.scalar(
        select(func.count())
        .select_from(OfflineLoanRow)
        .where(OfflineLoanRow.state == "refused", OfflineLoanRow.resolved_at.is_(None))
    )
    if not count:
        return []
    what = "1 offline loan" if count == 1 else f"{count} offline loans"
    return [
        Condition(
            "offline_loans_refused",
            "offline_loans_refused",
            WARNING,
            None,
            None,
            f"The ILS refused {what} made while it was down; see the work list.",
        )
    ]


RULES = (
    controllers_offline,
    doors_left_open,
    deposits_waiting,
    banks_full,
    guessing,
    notification_failures,
    offline_loans_refused,
)


def conditions(s: Session, settings: Settings, now: datetime) -> list[Condition]:
    return [c for rule in RULES for c in rule(s, settings, now)]
