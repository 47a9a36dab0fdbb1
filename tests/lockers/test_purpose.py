"""A door's purpose changes (its configuration did) only while it is empty, through the bank:
it becomes the new purpose's kind of empty door and the free index follows."""

from __future__ import annotations

import pytest

from lockers.bank import Bank
from lockers.errors import IllegalTransition
from lockers.model import Compartment, Item, Purpose, SizeClass
from lockers.states import CompartmentState

from .conftest import T0, build_bank

S = CompartmentState
LAYOUT = [
    (1, SizeClass.M, Purpose.PICKUP, 100),
    (2, SizeClass.M, Purpose.RETURN, 100),
    (3, SizeClass.M, Purpose.EQUIPMENT, 100),
]


def test_a_free_pickup_door_becomes_an_empty_return_door() -> None:
    bank = build_bank(LAYOUT)
    changed = bank.change_purpose(1, Purpose.RETURN, at=T0, actor="configuration")
    assert changed is not None
    assert (changed.from_state, changed.to_state) == ("free", "return_free")
    door = bank.compartment(1)
    assert (door.purpose, door.state) == (Purpose.RETURN, S.RETURN_FREE)
    assert bank.free_count(Purpose.PICKUP, SizeClass.M) == 0
    assert bank.door_for_deposit() == 1  # the lower number of two empty bins


def test_an_empty_return_door_becomes_a_free_pickup_door_that_allocation_sees() -> None:
    bank = build_bank(LAYOUT)
    changed = bank.change_purpose(2, Purpose.PICKUP, at=T0, actor="configuration")
    assert changed is not None
    assert (changed.from_state, changed.to_state) == ("return_free", "free")
    assert bank.compartment(2).state is S.FREE
    assert bank.free_count(Purpose.PICKUP, SizeClass.M) == 2
    assert bank.door_for_deposit() is None


def test_pickup_and_equipment_swap_without_a_state_change() -> None:
    bank = build_bank(LAYOUT)
    assert bank.change_purpose(3, Purpose.PICKUP, at=T0, actor="configuration") is None
    assert bank.compartment(3).purpose is Purpose.PICKUP
    assert bank.free_count(Purpose.EQUIPMENT, SizeClass.M) == 0
    assert bank.free_count(Purpose.PICKUP, SizeClass.M) == 2
    assert bank.change_purpose(3, Purpose.PICKUP, at=T0, actor="configuration") is None


def test_a_door_with_something_in_it_keeps_its_purpose() -> None:
    bank = build_bank(LAYOUT)
    bank.place(1, [Item("B1", "P1", SizeClass.S)], at=T0, actor="staff")
    bank.deposit(2, at=T0, actor="patron")
    for number, purpose in ((1, Purpose.RETURN), (2, Purpose.PICKUP)):
        before = bank.compartment(number)
        with pytest.raises(IllegalTransition):
            bank.change_purpose(number, purpose, at=T0, actor="configuration")
        assert bank.compartment(number) == before


def test_an_out_of_service_door_keeps_its_purpose() -> None:
    door = Compartment("b", 1, SizeClass.M, Purpose.PICKUP, 100, state=S.OUT_OF_SERVICE)
    bank = Bank("b", [door])
    with pytest.raises(IllegalTransition):
        bank.change_purpose(1, Purpose.RETURN, at=T0, actor="configuration")
    assert bank.compartment(1).purpose is Purpose.PICKUP
