"""Return doors as bins: a return door takes ``capacity`` deposits, the same door is offered
until it is full, and emptying it makes it take returns again."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockers.bank import Bank
from lockers.errors import IllegalTransition
from lockers.model import Compartment, Purpose, SizeClass
from lockers.states import CompartmentState

from .conftest import T0

S = CompartmentState


def bins(capacities: list[int]) -> Bank:
    """Return doors 1..n with the given capacities, and one pickup door n+1."""
    doors = [
        Compartment("b", n, SizeClass.M, Purpose.RETURN, 100, state=S.RETURN_FREE, capacity=c)
        for n, c in enumerate(capacities, start=1)
    ]
    doors.append(Compartment("b", len(capacities) + 1, SizeClass.M, Purpose.PICKUP, 100))
    return Bank("b", doors)


def empty(bank: Bank, number: int) -> None:
    for to in (S.EMPTIED_BY_STAFF, S.RETURN_FREE):
        bank.transition(number, to, at=T0, actor="staff", reason="emptied")


def test_a_bin_is_offered_until_full_then_the_next_one() -> None:
    bank = bins([3, 2])
    offered = []
    for _ in range(5):
        door = bank.door_for_deposit()
        assert door is not None
        offered.append(door)
        bank.deposit(door, at=T0, actor="patron")
    assert offered == [1, 1, 1, 2, 2]
    assert bank.door_for_deposit() is None
    assert bank.compartment(1).state is S.RETURN_OCCUPIED
    empty(bank, 1)
    assert bank.compartment(1).deposits == 0
    assert bank.door_for_deposit() == 1


def test_an_open_door_is_skipped_and_a_pickup_door_takes_no_deposit() -> None:
    bank = bins([2, 2])
    assert bank.door_for_deposit(unavailable={1}) == 2
    with pytest.raises(IllegalTransition):
        bank.deposit(3, at=T0, actor="patron")
    assert not bank.accepts_deposit(3)


def test_a_bin_out_of_service_takes_nothing_and_comes_back_holding_its_returns() -> None:
    bank = bins([4])
    bank.deposit(1, count=2, at=T0, actor="patron")
    bank.transition(1, S.OUT_OF_SERVICE, at=T0, actor="staff", reason="jammed")
    assert bank.door_for_deposit() is None
    bank.return_to_service(1, at=T0, actor="staff", reason="fixed")
    assert bank.compartment(1).state is S.RETURN_OCCUPIED
    assert bank.door_for_deposit() == 1


# One step: a patron deposits at the offered door (None: every door is in use or full), staff
# empty door n, or door n is open for someone else while the next patron asks.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(1, 4)),
        st.tuples(st.just("empty"), st.integers(1, 4)),
        st.tuples(st.just("busy"), st.integers(1, 4)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(capacities=st.lists(st.integers(1, 5), min_size=1, max_size=4), script=steps)
def test_bins_never_overfill_and_fill_one_at_a_time(
    capacities: list[int], script: list[tuple[str, int]]
) -> None:
    bank = bins(capacities)
    n = len(capacities)
    for action, door in script:
        door = (door - 1) % n + 1
        if action == "empty":
            if bank.compartment(door).state is S.RETURN_OCCUPIED:
                empty(bank, door)
            continue
        unavailable = {door} if action == "busy" else set()
        offered = bank.door_for_deposit(unavailable=unavailable)
        accepting = [
            c.number
            for c in bank.compartments()
            if bank.accepts_deposit(c.number) and c.number not in unavailable
        ]
        if offered is None:
            assert accepting == []
            continue
        assert offered in accepting and offered not in unavailable
        chosen = bank.compartment(offered)
        # A started bin that takes more is always chosen before an empty one.
        started = [d for d in accepting if bank.compartment(d).deposits > 0]
        assert chosen.deposits > 0 or not started
        bank.deposit(offered, at=T0, actor="patron")
    for c in bank.compartments():
        if c.purpose is Purpose.RETURN:
            assert 0 <= c.deposits <= c.capacity
            assert (c.state is S.RETURN_OCCUPIED) == (c.deposits > 0)
            assert bank.accepts_deposit(c.number) == (c.deposits < c.capacity)
        else:
            assert not bank.accepts_deposit(c.number)
