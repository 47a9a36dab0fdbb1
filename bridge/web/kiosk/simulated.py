"""Acting as the person at a **simulated** bank (demo and browser tests): the kiosk's
"close door N" buttons, through the bank's in-memory driver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

from flask import abort
from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.wiring import driver_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from lockers.drivers.simulated import SimulatedBank

Handling = Literal["put", "take", "none"]


def simulated_bank(rt: Runtime, bank_id: str) -> SimulatedBank | None:
    """The bank's in-memory driver when the bank is simulated, else None (real hardware:
    nobody closes a door from a web page)."""
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

    Everything goes through the driver, whose events reach ``bridge.services.doors.events``
    exactly as a controller's would: the load is recorded, codes made and the patron told.
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
