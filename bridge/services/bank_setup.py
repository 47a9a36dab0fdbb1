"""The configuration's banks and doors as rows: what start-up and ``db upgrade`` bring in line."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.config import Purpose
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, BankRow, CompartmentRow


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
                            state=_initial_state(conf.purpose),
                            state_since=now,
                        )
                    )
                    counts["added"] += 1
                    continue
                if crow.fault == _REMOVED:
                    # The door is back in the configuration: return it to service empty-handed
                    # only if nothing is recorded inside (the service layer checks contents).
                    crow.fault = None
                    crow.state = crow.state_before_fault or _initial_state(conf.purpose)
                    crow.state_before_fault = None
                    counts["updated"] += 1
                if _describe(crow) != _describe_conf(conf) and crow.state in (
                    "free",
                    "return_free",
                ):
                    crow.size, crow.purpose = conf.size.value, conf.purpose.value
                    crow.height_cm, crow.charger = conf.height_cm, conf.charger
                    crow.width_mm, crow.height_mm = conf.width_mm, conf.height_mm
                    crow.depth_mm = conf.depth_mm
                    crow.state = _initial_state(conf.purpose)
                    counts["updated"] += 1
            for number, crow in existing.items():
                if number in configured or crow.fault == _REMOVED:
                    continue
                crow.state_before_fault = crow.state
                crow.state = "out_of_service"
                crow.fault = _REMOVED
                crow.state_since = now
                s.add(
                    AuditEventRow(
                        at=now,
                        kind="compartment_retired",
                        bank_id=bank.id,
                        compartment=number,
                        actor="configuration",
                        detail={"from": crow.state_before_fault},
                    )
                )
                counts["retired"] += 1
    return counts


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
