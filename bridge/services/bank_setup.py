"""The configuration's banks and doors as rows: what start-up and ``db upgrade`` bring in line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.config import Purpose
from bridge.runtime import Runtime
from bridge.services.banks import load_bank, put_out_of_service, save_compartments
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow, CompartmentRow
from lockers.model import Purpose as DomainPurpose
from lockers.states import CompartmentState


def _initial_state(purpose: Purpose) -> str:
    return "return_free" if purpose is Purpose.RETURN else "free"


def sync_banks(rt: Runtime) -> dict[str, int]:
    """Brings the bank and compartment rows in line with the configuration; idempotent.

    New doors are added (free); doors no longer configured are put out of service with the
    fault "removed from configuration" (never deleted: they may still hold items and the
    audit refers to them); changed sizes/heights/purposes of free doors are updated. Returns
    counts of what changed ("added", "retired", "updated").
    """
    counts = {"added": 0, "retired": 0, "updated": 0}
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        for bank in rt.settings.banks:
            row = s.get(BankRow, bank.id)
            if row is None:
                s.add(BankRow(id=bank.id, name=bank.name, branch=bank.branch, ils=bank.ils))
                s.flush()
            else:
                row.name, row.branch, row.ils = bank.name, bank.branch, bank.ils
            existing = {
                c.number: c
                for c in s.scalars(select(CompartmentRow).where(CompartmentRow.bank_id == bank.id))
            }
            configured = {c.number: c for c in bank.all_compartments()}
            back: list[int] = []
            repurposed: dict[int, Purpose] = {}
            for number, conf in configured.items():
                crow = existing.get(number)
                if crow is None:
                    s.add(
                        CompartmentRow(
                            bank_id=bank.id,
                            number=number,
                            size=conf.size.value,
                            purpose=conf.purpose.value,
                            height_cm=conf.height_cm,
                            width_mm=conf.width_mm,
                            height_mm=conf.height_mm,
                            depth_mm=conf.depth_mm,
                            charger=conf.charger,
                            capacity=conf.capacity,
                            state=_initial_state(conf.purpose),
                            state_since=now,
                        )
                    )
                    counts["added"] += 1
                    continue
                if crow.fault == _REMOVED:
                    back.append(number)
                if crow.capacity != conf.capacity:
                    # What a bin takes may change while it holds returns: the kiosk only asks
                    # it before offering the door again.
                    crow.capacity = conf.capacity
                    counts["updated"] += 1
                if _describe(crow) != _describe_conf(conf) and crow.state in (
                    "free",
                    "return_free",
                ):
                    # An empty door's description. A changed purpose makes it the other kind
                    # of empty door (free <-> return_free): a state change, so the domain
                    # bank makes it (below).
                    crow.size = conf.size.value
                    crow.height_cm, crow.charger = conf.height_cm, conf.charger
                    crow.width_mm, crow.height_mm = conf.width_mm, conf.height_mm
                    crow.depth_mm = conf.depth_mm
                    if crow.purpose != conf.purpose.value:
                        repurposed[number] = conf.purpose
                    counts["updated"] += 1
            gone = [n for n, c in existing.items() if n not in configured and c.fault != _REMOVED]
            if back or gone or repurposed:
                counts["updated"] += len(back)
                counts["retired"] += len(gone)
                _through_the_bank(s, bank.id, repurposed, gone, back, now)
    return counts


def _through_the_bank(
    s: Session,
    bank_id: str,
    repurposed: dict[int, Purpose],
    gone: list[int],
    back: list[int],
    now: datetime,
) -> None:
    """Empty doors whose purpose changed become the new purpose's kind of empty door; doors
    that left the configuration go out of service (fault :data:`_REMOVED`); doors that came
    back return to the state that fits what they hold. Through the domain bank, the one place
    compartment state changes."""
    s.flush()
    state = load_bank(s, bank_id)
    for number, purpose in repurposed.items():
        to = DomainPurpose(purpose.value)
        state.bank.change_purpose(number, to, at=now, actor="configuration")
    for number in back:
        state.rows[number].fault = None
        if state.bank.compartment(number).state is CompartmentState.OUT_OF_SERVICE:
            state.bank.return_to_service(
                number, at=now, actor="configuration", reason="configured again"
            )
    for number in gone:
        before = state.bank.compartment(number).state
        put_out_of_service(
            s,
            state,
            number,
            fault=_REMOVED,
            kind="compartment_retired",
            at=now,
            actor="configuration",
            **{"from": before.value},
        )
    save_compartments(state, now)


_REMOVED = "removed from configuration"


def _describe(row: CompartmentRow) -> tuple[Any, ...]:
    return (
        row.size,
        row.purpose,
        row.height_cm,
        row.charger,
        row.width_mm,
        row.height_mm,
        row.depth_mm,
    )


def _describe_conf(conf: Any) -> tuple[Any, ...]:
    return (
        conf.size.value,
        conf.purpose.value,
        conf.height_cm,
        conf.charger,
        conf.width_mm,
        conf.height_mm,
        conf.depth_mm,
    )
