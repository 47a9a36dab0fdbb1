from __future__ import annotations

import itertools

import pytest

from lockers.bank import Bank
from lockers.deposit import Deposit, advance
from lockers.errors import IllegalTransition
from lockers.model import Compartment, Purpose, SizeClass
from lockers.states import (
    CompartmentState,
    DepositState,
    check_compartment_transition,
    check_deposit_transition,
)

from .conftest import T0

C = CompartmentState
D = DepositState

# Written out from docs/architecture.md (Compartment and deposit states), independently of
# lockers.states.
LEGAL_COMPARTMENT = {
    (C.FREE, C.RESERVED),
    (C.RESERVED, C.LOADED),
    (C.RESERVED, C.FREE),
    (C.LOADED, C.PICKED_UP),
    (C.PICKED_UP, C.FREE),
    (C.LOADED, C.EXPIRED),
    (C.EXPIRED, C.STAFF_REMOVE),
    (C.STAFF_REMOVE, C.FREE),
    (C.RETURN_FREE, C.RETURN_OCCUPIED),
    (C.RETURN_OCCUPIED, C.EMPTIED_BY_STAFF),
    (C.EMPTIED_BY_STAFF, C.RETURN_FREE),
    *((s, C.OUT_OF_SERVICE) for s in C if s is not C.OUT_OF_SERVICE),
    *(
        (C.OUT_OF_SERVICE, s)
        for s in (
            C.FREE,
            C.RESERVED,
            C.LOADED,
            C.EXPIRED,
            C.STAFF_REMOVE,
            C.RETURN_FREE,
            C.RETURN_OCCUPIED,
        )
    ),
}
LEGAL_DEPOSIT = {
    (D.RECORDED, D.CHECKING_IN),
    (D.RECORDED, D.WAITING_FOR_ILS),
    (D.CHECKING_IN, D.CHECKED_IN),
    (D.CHECKING_IN, D.NEEDS_STAFF),
    (D.CHECKING_IN, D.WAITING_FOR_ILS),
    (D.WAITING_FOR_ILS, D.CHECKING_IN),
}


@pytest.mark.parametrize(("from_state", "to_state"), list(itertools.product(C, C)))
def test_compartment_transition_is_allowed_exactly_when_the_domain_lists_it(
    from_state: CompartmentState, to_state: CompartmentState
) -> None:
    if (from_state, to_state) in LEGAL_COMPARTMENT:
        check_compartment_transition(from_state, to_state)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_compartment_transition(from_state, to_state)
        assert info.value.from_state == from_state.value
        assert info.value.to_state == to_state.value
        assert f"{from_state.value} -> {to_state.value}" in str(info.value)


@pytest.mark.parametrize(("from_state", "to_state"), list(itertools.product(D, D)))
def test_deposit_transition_is_allowed_exactly_when_the_domain_lists_it(
    from_state: DepositState, to_state: DepositState
) -> None:
    deposit = Deposit("d1", "bank-1", 7, "39999000001", T0, state=from_state)
    if (from_state, to_state) in LEGAL_DEPOSIT:
        check_deposit_transition(from_state, to_state)
        moved, event = advance(deposit, to_state, at=T0, actor="worker", reason="test")
        assert moved.state is to_state
        assert (event.what, event.from_state, event.to_state) == (
            "deposit",
            from_state.value,
            to_state.value,
        )
    else:
        with pytest.raises(IllegalTransition, match=f"{from_state.value} -> {to_state.value}"):
            advance(deposit, to_state, at=T0, actor="worker", reason="test")


def test_every_deposit_path_ends_in_checked_in_or_needs_staff() -> None:
    terminal = {s for s in D if not any(a == s for a, _ in LEGAL_DEPOSIT)}
    assert terminal == {D.CHECKED_IN, D.NEEDS_STAFF}


def _one(purpose: Purpose, state: CompartmentState) -> Bank:
    return Bank(
        "b",
        [Compartment("b", 1, SizeClass.M, purpose, 100, state=state)],
    )


def test_a_pickup_door_cannot_enter_the_return_cycle_even_from_out_of_service() -> None:
    bank = _one(Purpose.PICKUP, C.OUT_OF_SERVICE)
    with pytest.raises(IllegalTransition, match="out_of_service -> return_free"):
        bank.transition(1, C.RETURN_FREE, at=T0, actor="staff", reason="x")


def test_every_state_change_yields_an_audit_event_naming_from_to_actor_and_reason() -> None:
    bank = _one(Purpose.RETURN, C.RETURN_FREE)
    event = bank.transition(1, C.RETURN_OCCUPIED, at=T0, actor="patron", reason="deposit")
    assert (event.compartment, event.from_state, event.to_state) == (
        1,
        "return_free",
        "return_occupied",
    )
    assert (event.at, event.actor, event.reason) == (T0, "patron", "deposit")
    assert bank.compartment(1).state is C.RETURN_OCCUPIED


@pytest.mark.parametrize(
    ("before", "purpose", "expected"),
    [
        (C.FREE, Purpose.PICKUP, C.FREE),
        (C.RETURN_FREE, Purpose.RETURN, C.RETURN_FREE),
        (C.EMPTIED_BY_STAFF, Purpose.RETURN, C.RETURN_FREE),
        (C.PICKED_UP, Purpose.PICKUP, C.FREE),
    ],
)
def test_an_empty_door_goes_back_to_its_free_state_after_out_of_service(
    before: CompartmentState, purpose: Purpose, expected: CompartmentState
) -> None:
    bank = _one(purpose, before)
    bank.transition(1, C.OUT_OF_SERVICE, at=T0, actor="staff", reason="fault")
    event = bank.return_to_service(1, at=T0, actor="staff", reason="repaired")
    assert event.to_state == expected.value


def test_a_loaded_door_goes_back_to_loaded_after_out_of_service() -> None:
    from lockers.model import Item

    bank = _one(Purpose.PICKUP, C.FREE)
    bank.place(1, [Item("i1", "p1", SizeClass.S)], at=T0, actor="staff")
    bank.transition(1, C.LOADED, at=T0, actor="staff", reason="door closed")
    bank.transition(1, C.OUT_OF_SERVICE, at=T0, actor="staff", reason="sensor fault")
    assert bank.return_to_service(1, at=T0, actor="staff", reason="ok").to_state == "loaded"
    assert [c.item.barcode for c in bank.contents(1)] == ["i1"]


def test_a_door_becoming_free_forgets_which_patron_had_it() -> None:
    from lockers.model import Item

    bank = _one(Purpose.PICKUP, C.FREE)
    bank.place(1, [Item("i1", "p1", SizeClass.S)], at=T0, actor="staff")
    for to in (C.LOADED, C.PICKED_UP, C.FREE):
        bank.transition(1, to, at=T0, actor="patron", reason="pickup")
    assert bank.compartments_of("p1") == ()
    assert bank.contents(1) == () and bank.reservation(1) is None
