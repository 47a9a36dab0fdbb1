"""Door events: a controller that resends an event (it never saw our answer) changes nothing the
second time, whatever the door was opened for."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.assembly import handle_event
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_card
from bridge.services.return_doors import open_return_door
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow, OutboxRow
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow
from ils_adapters.memory import MemoryIls
from lockers.drivers.base import DoorClosed, DoorOpened
from tests.flows.conftest import load_door, sim, state_of
from tests.support.db import both_databases

TABLES = (CompartmentRow, LoadRow, AccessGrantRow, NotificationRow, DepositRow, OutboxRow,
          AuditEventRow)  # fmt: skip


def _everything(rt: Runtime) -> dict[str, list[dict[str, Any]]]:
    with unit_of_work(rt.sessions) as s:
        return {
            t.__tablename__: [
                {c.key: getattr(row, c.key) for c in t.__mapper__.column_attrs}
                for row in s.scalars(select(t).order_by(*t.__table__.primary_key.columns))
            ]
            for t in TABLES
        }


def _resent_close_changes_nothing(rt: Runtime, door: int) -> None:
    before = _everything(rt)
    handle_event(rt, DoorClosed("main-lobby", door, rt.clock()))
    assert _everything(rt) == before


@both_databases
def test_a_resent_door_close_changes_nothing_after_loading_pickup_or_a_return(
    rt: Runtime, ils: MemoryIls
) -> None:
    # Loading: one code, one message.
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    loaded = scan_item(rt, "main-lobby", "B1", "staff")
    assert loaded.compartment is not None
    load_door(rt, loaded.compartment)
    assert state_of(rt, loaded.compartment) == "loaded"
    _resent_close_changes_nothing(rt, loaded.compartment)

    # Pickup: the door is freed once.
    assert pickup_with_card(rt, "main-lobby", "P1", "1234").outcome is PickupOutcome.OPENED
    bank = sim(rt)
    bank.take_item(loaded.compartment)
    bank.close_door(loaded.compartment)
    assert state_of(rt, loaded.compartment) == "free"
    _resent_close_changes_nothing(rt, loaded.compartment)

    # A return: one deposit, checked in once.
    returned = open_return_door(rt, "main-lobby", "B2").opened
    assert returned is not None
    bank.put_item(returned)
    bank.close_door(returned)
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(DepositRow.item_barcode)).all() == ["B2"]
    _resent_close_changes_nothing(rt, returned)


@both_databases
def test_a_resent_door_open_of_a_door_already_open_changes_nothing(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    loaded = scan_item(rt, "main-lobby", "B1", "staff")
    assert loaded.compartment is not None and sim(rt).is_open(loaded.compartment)
    before = _everything(rt)
    with unit_of_work(rt.sessions) as s:
        opened_at = s.scalars(
            select(CompartmentRow.door_opened_at).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == loaded.compartment
            )
        ).one()
    assert opened_at is not None
    handle_event(rt, DoorOpened("main-lobby", loaded.compartment, opened_at))
    assert _everything(rt) == before
