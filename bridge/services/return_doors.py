"""A return at the bank: open an empty return door for the item the patron scanned.

The deposit itself is recorded by ``bridge.services.doors.closing`` when the door closes (it
looks for the ``LoadRow`` of kind ``deposit`` written here), then checked in by the returns
worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete

from bridge.runtime import Runtime
from bridge.services.banks import audit, lock_bank
from bridge.services.deposits import door_for_deposit
from bridge.services.doors.opening import open_door
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import LoadRow

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
        door = door_for_deposit(s, bank_id, now=now)
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
