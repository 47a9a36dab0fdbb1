from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockers.allocation import Allocation, NoFit, allocate, apply_allocation
from lockers.bank import Bank
from lockers.capacity import load_of
from lockers.errors import IllegalTransition
from lockers.model import Compartment, Dimensions, Item, Purpose, Reach, SizeClass
from lockers.states import CompartmentState

from .conftest import T0, build_bank

S, M, L, XL = SizeClass.S, SizeClass.M, SizeClass.L, SizeClass.XL
P, E = Purpose.PICKUP, Purpose.EQUIPMENT


def item(barcode: str, size: SizeClass = S, patron: str = "p1", **kw: object) -> Item:
    return Item(barcode, patron, size, **kw)  # type: ignore[arg-type]


def placed(result: Allocation | NoFit) -> dict[int, list[str]]:
    assert isinstance(result, Allocation), result
    return {p.compartment: [i.barcode for i in p.items] for p in result.placements}


def test_one_item_goes_into_the_smallest_compartment_that_fits() -> None:
    bank = build_bank([(1, XL, P, 50), (2, L, P, 50), (3, M, P, 50), (4, S, P, 50)])
    assert placed(allocate(bank, [item("a", M)])) == {3: ["a"]}


def test_ties_are_broken_by_compartment_number() -> None:
    bank = build_bank([(9, M, P, 50), (4, M, P, 150), (6, M, P, 50)])
    assert placed(allocate(bank, [item("a", S)])) == {4: ["a"]}


def test_several_items_of_one_patron_share_one_compartment_when_they_fit() -> None:
    bank = build_bank([(1, S, P, 50), (2, S, P, 50), (3, L, P, 50)])
    assert placed(allocate(bank, [item("a"), item("b"), item("c")])) == {3: ["a", "b", "c"]}


def test_items_spill_to_a_second_door_when_they_do_not_fit_together() -> None:
    bank = build_bank([(1, L, P, 50), (2, L, P, 50), (3, S, P, 50)])
    result = placed(allocate(bank, [item("a", L), item("b", M)]))
    assert result == {1: ["a"], 2: ["b"]}


def test_a_new_item_joins_the_patrons_loaded_compartment_without_touching_others() -> None:
    bank = build_bank([(1, L, P, 50), (2, L, P, 50), (3, S, P, 50)])
    apply_allocation(bank, _ok(allocate(bank, [item("a", M)])), at=T0, actor="staff")
    apply_allocation(bank, _ok(allocate(bank, [item("x", M, patron="p2")])), at=T0, actor="staff")
    bank.transition(1, CompartmentState.LOADED, at=T0, actor="staff", reason="closed")
    result = allocate(bank, [item("b", M)])
    assert isinstance(result, Allocation)
    assert result.placements[0].existing and result.compartments == (1,)
    events = apply_allocation(bank, result, at=T0, actor="staff")
    assert events == []  # no state change: the door stays loaded
    assert [c.item.barcode for c in bank.contents(1)] == ["a", "b"]
    assert [c.item.barcode for c in bank.contents(2)] == ["x"]
    assert bank.compartment(1).state is CompartmentState.LOADED


def test_a_patron_with_a_reach_gets_a_door_within_reach_even_if_bigger() -> None:
    bank = build_bank([(1, S, P, 170), (2, L, P, 90), (3, M, P, 20)])
    assert placed(allocate(bank, [item("a")], reach=Reach(60, 130))) == {2: ["a"]}


def test_without_a_door_in_reach_the_item_still_gets_one() -> None:
    bank = build_bank([(1, S, P, 170)])
    assert placed(allocate(bank, [item("a")], reach=Reach(60, 130))) == {1: ["a"]}


def test_holds_never_land_in_equipment_or_return_compartments() -> None:
    bank = build_bank([(1, S, E, 50), (2, S, Purpose.RETURN, 50)])
    result = allocate(bank, [item("a")])
    assert isinstance(result, NoFit)
    assert result.reason == "hold shelf instead: no free pickup compartment of size S or larger"


def test_equipment_goes_into_an_equipment_compartment_with_a_charger_when_it_needs_one() -> None:
    bank = Bank(
        "b",
        [
            Compartment("b", 1, M, E, 50),
            Compartment("b", 2, M, E, 50, has_charger=True),
            Compartment("b", 3, S, P, 50),
        ],
    )
    laptop = item("laptop", M, needs_charger=True)
    assert placed(allocate(bank, [laptop], purpose=E)) == {2: ["laptop"]}


def test_no_fit_names_the_size_that_was_missing_for_staff() -> None:
    bank = build_bank([(1, S, P, 50), (2, M, P, 50)])
    result = allocate(bank, [item("a", L)])
    assert isinstance(result, NoFit)
    assert result.reason == "hold shelf instead: no free pickup compartment of size L or larger"


def test_partly_placed_items_are_reported_as_left_over() -> None:
    bank = build_bank([(1, S, P, 50)])
    result = allocate(bank, [item("a"), item("b", XL)])
    assert isinstance(result, Allocation)
    assert result.compartments == (1,)
    assert result.left_over is not None and [i.barcode for i in result.left_over.items] == ["b"]


def test_item_dimensions_must_fit_the_inner_space() -> None:
    box = Dimensions(300, 300, 300)
    bank = Bank(
        "b",
        [
            Compartment("b", 1, L, P, 50, inner=Dimensions(400, 250, 500)),
            Compartment("b", 2, L, P, 50, inner=Dimensions(400, 400, 500)),
        ],
    )
    assert placed(allocate(bank, [item("a", M, dimensions=box)])) == {2: ["a"]}


def test_capacity_held_for_items_in_transit_is_left_free_for_ordinary_items() -> None:
    bank = build_bank([(1, M, P, 50), (2, L, P, 50)])
    bank.expect_in_transit("t1", L)
    assert placed(allocate(bank, [item("a", M)])) == {1: ["a"]}
    apply_allocation(bank, _ok(allocate(bank, [item("a", M)])), at=T0, actor="staff")
    result = allocate(bank, [item("b", S, patron="p2")])
    assert isinstance(result, NoFit)
    transit = allocate(bank, [item("t1", L, patron="p3", in_transit=True)])
    assert placed(transit) == {2: ["t1"]}
    apply_allocation(bank, _ok(transit), at=T0, actor="staff")
    assert bank.transit_reserve()[L] == 0


def test_applying_a_stale_allocation_to_a_taken_door_is_refused() -> None:
    bank = build_bank([(1, S, P, 50)])
    first = _ok(allocate(bank, [item("a")]))
    second = _ok(allocate(bank, [item("b", patron="p2")]))
    apply_allocation(bank, first, at=T0, actor="staff")
    with pytest.raises(IllegalTransition):
        apply_allocation(bank, second, at=T0, actor="staff")


def _ok(result: Allocation | NoFit) -> Allocation:
    assert isinstance(result, Allocation), result
    return result


# -- properties ------------------------------------------------------------------------------

sizes = st.sampled_from(list(SizeClass))
layouts = st.lists(
    st.tuples(sizes, st.sampled_from([P, P, P, E]), st.sampled_from([20, 60, 100, 140, 180])),
    min_size=1,
    max_size=25,
)
requests = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3", "p4"]),
        st.lists(sizes, min_size=1, max_size=4),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=layouts, reqs=requests)
def test_allocation_never_double_books_nor_overfills_and_keeps_one_patron_per_door(
    layout: list[tuple[SizeClass, Purpose, int]], reqs: list[tuple[str, list[SizeClass], bool]]
) -> None:
    bank = build_bank([(n + 1, size, purpose, h) for n, (size, purpose, h) in enumerate(layout)])
    counter = 0
    seen: set[str] = set()
    for patron, item_sizes, with_reach in reqs:
        items = []
        for size in item_sizes:
            counter += 1
            items.append(item(f"i{counter}", size, patron=patron))
        result = allocate(bank, items, reach=Reach(50, 120) if with_reach else None)
        if isinstance(result, NoFit):
            continue
        barcodes = [i.barcode for p in result.placements for i in p.items]
        left = [i.barcode for i in result.left_over.items] if result.left_over else []
        assert sorted(barcodes + left) == sorted(i.barcode for i in items)
        assert len(set(result.compartments)) == len(result.compartments)
        apply_allocation(bank, result, at=T0, actor="staff")
        seen.update(barcodes)
    all_contents = [c for comp in bank.compartments() for c in bank.contents(comp.number)]
    assert Counter(c.item.barcode for c in all_contents) == Counter(seen)
    for comp in bank.compartments():
        contents = bank.contents(comp.number)
        assert load_of(comp, (c.item for c in contents)) <= 1
        assert len({c.item.patron_ref for c in contents}) <= 1
        assert comp.purpose is P or not contents


@settings(max_examples=150, deadline=None)
@given(layout=layouts, item_sizes=st.lists(sizes, min_size=1, max_size=5))
def test_a_patrons_items_share_one_door_whenever_a_single_free_door_can_hold_them(
    layout: list[tuple[SizeClass, Purpose, int]], item_sizes: list[SizeClass]
) -> None:
    bank = build_bank([(n + 1, size, purpose, h) for n, (size, purpose, h) in enumerate(layout)])
    items = [item(f"i{n}", size) for n, size in enumerate(item_sizes)]
    needed = sum(s.units for s in item_sizes)
    biggest_free = max((c.size for c in bank.compartments() if c.purpose is P), default=None)
    result = allocate(bank, items)
    if biggest_free is not None and biggest_free.units >= needed:
        assert isinstance(result, Allocation)
        assert len(result.placements) == 1 and result.left_over is None
        chosen = bank.compartment(result.compartments[0])
        smallest_fitting = min(
            c.size for c in bank.compartments() if c.purpose is P and c.size.units >= needed
        )
        assert chosen.size is smallest_fitting
