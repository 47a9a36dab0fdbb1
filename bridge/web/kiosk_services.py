"""Kiosk use cases that no service module offers yet: opening a return door for a deposit,
and acting as the person at a **simulated** bank (demo and browser tests).

The deposit itself is recorded by ``bridge.services.doors`` when the door closes (it looks for
the ``LoadRow`` of kind ``deposit`` written here), then checked in by the returns worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import delete, select

from bridge.runtime import Runtime
from bridge.services.banks import audit, lock_bank
from bridge.services.deposits import door_for_deposit
from bridge.services.doors import open_door
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from lockers.drivers.simulated import SimulatedBank

ANONYMOUS = "anonymous"  # returns need no patron: the ILS knows who borrowed the item


@dataclass(frozen=True)
class ReturnDoor:
    opened: int | None
    full: bool = False  # no empty return door
    door_failed: bool = False


def open_return_door(rt: Runtime, bank_id: str, item_barcode: str) -> ReturnDoor:
    """Picks a return door with room, expects ``item_barcode`` in it, and opens it.

    Raises:
        KeyError: unknown bank.
        ValueError: empty barcode.
    """
    rt.settings.bank(bank_id)
    item_barcode = item_barcode.strip()
    if not item_barcode:
        raise ValueError("no item barcode")
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        lock_bank(s, bank_id)
        door = door_for_deposit(s, bank_id)
        if door is None:
            audit(s, "return_no_door", at=now, bank_id=bank_id, actor="patron", item=item_barcode)
            return ReturnDoor(None, full=True)
        load = LoadRow(
            bank_id=bank_id,
            compartment=door.number,
            item_barcode=item_barcode,
            size=door.size,
            kind="deposit",
            state="reserved",
            patron_ref=ANONYMOUS,
            created_at=now,
        )
        s.add(load)
        s.flush()
        load_id = load.id
    opening = open_door(rt, bank_id, door.number, actor="patron")
    if opening.ok:
        return ReturnDoor(opening.opened)
    with unit_of_work(rt.sessions) as s:
        s.execute(delete(LoadRow).where(LoadRow.id == load_id))
    return ReturnDoor(None, door_failed=True)


# --- simulated banks: the person at the door ---------------------------------------------------

Handling = Literal["put", "take", "none"]


def simulated_bank(rt: Runtime, bank_id: str) -> SimulatedBank | None:
    """The bank's in-memory driver when the bank is simulated, else None (real hardware:
    nobody closes a door from a web page)."""
    from bridge.wiring import driver_for

    if rt.settings.bank(bank_id).driver.kind != "simulated":
        return None
    driver = driver_for(rt, bank_id)
    return driver if isinstance(driver, SimulatedBank) else None


def open_doors(rt: Runtime, bank_id: str) -> list[int]:
    """Doors the controller last reported open (as stored), in number order."""
    with unit_of_work(rt.sessions) as s:
        return list(
            s.scalars(
                select(CompartmentRow.number)
                .where(CompartmentRow.bank_id == bank_id, CompartmentRow.door_open.is_(True))
                .order_by(CompartmentRow.number)
            )
        )


def close_from_form(rt: Runtime, bank_id: str, form: Mapping[str, str]) -> tuple[int, bool]:
    """The "close door N" button of a page at a simulated bank (fields ``number`` and
    ``handling``): closes it and returns (number, closed). Aborts with 404 when the bank is not
    simulated and 400 for a malformed form, so a forged post changes nothing."""
    from flask import abort

    if simulated_bank(rt, bank_id) is None:
        abort(404)
    handling = form.get("handling", "none")
    if handling not in ("put", "take", "none"):
        abort(400)
    try:
        number = int(form.get("number") or "")
    except ValueError:
        abort(400)
    return number, close_simulated_door(rt, bank_id, number, cast(Handling, handling))


def close_simulated_door(rt: Runtime, bank_id: str, number: int, handling: Handling) -> bool:
    """Someone at a simulated bank puts an item in (``put``), takes everything out (``take``)
    or does neither, then pushes the door shut. False: not a simulated bank, or the door is
    not open.

    Everything goes through the driver, whose events reach ``bridge.services.doors`` exactly
    as a controller's would: the load is recorded, codes made and the patron told.
    """
    sim = simulated_bank(rt, bank_id)
    if sim is None or number not in open_doors(rt, bank_id):
        return False
    if not sim.is_open(number):
        # Opened by another process (each process has its own in-memory bank): catch up.
        sim.open_door(number)
    if handling == "put":
        sim.put_item(number)
    elif handling == "take":
        while sim.items_in(number) > 0:
            sim.take_item(number)
    return sim.close_door(number)
