"""Choosing compartments for a patron's items (docs/architecture.md, Load, step 4).

Rules, in order of precedence:
1. Only compartments of the request's purpose (pickup for holds, equipment for equipment).
2. A patron's accessible reach, when known, comes first: doors within reach are tried before
   any other; items that fit nowhere within reach then go wherever they fit.
3. Items first join the patron's compartments already reserved or loaded at this bank, where
   they fit; other compartments' contents are never touched.
4. The rest go together into the smallest free compartment that holds them all; when none
   does, the largest free door that takes the biggest item is filled first (fewest doors), and
   so on.
5. Free capacity held back for items in transit stays free unless an in-transit item uses it.
Ties are broken by compartment number, so the answer is deterministic. The work per request
depends on the number of distinct door groups, not on the number of compartments.

``allocate`` only answers; ``apply_allocation`` makes the bank take the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from lockers.bank import HOLDING_STATES, Bank
from lockers.capacity import fits_alone, fits_together, item_load, load_of
from lockers.events import StateChanged
from lockers.model import Compartment, Item, Purpose, Reach, SizeClass

_ASCENDING = tuple(SizeClass)
_DESCENDING = tuple(reversed(SizeClass))


@dataclass(frozen=True)
class Placement:
    """Items going into one compartment; ``existing``: the patron already has this door."""

    compartment: int
    items: tuple[Item, ...]
    existing: bool = False


@dataclass(frozen=True)
class NoFit:
    """Nothing fits: ``reason`` is written for staff (e.g. "hold shelf instead: ...")."""

    items: tuple[Item, ...]
    reason: str


@dataclass(frozen=True)
class Allocation:
    """Where the items go. ``left_over`` holds the items that fit nowhere, if any."""

    bank_id: str
    patron_ref: str
    placements: tuple[Placement, ...]
    left_over: NoFit | None = None

    @property
    def compartments(self) -> tuple[int, ...]:
        return tuple(p.compartment for p in self.placements)


@dataclass
class _Plan:
    """Bookkeeping of one allocation run: doors taken and reserve consumed so far."""

    taken: set[int] = field(default_factory=set)
    taken_per_size: dict[SizeClass, int] = field(
        default_factory=lambda: dict.fromkeys(SizeClass, 0)
    )
    transit_used: dict[SizeClass, int] = field(default_factory=lambda: dict.fromkeys(SizeClass, 0))
    placements: list[Placement] = field(default_factory=list)


def _order(items: Sequence[Item]) -> list[Item]:
    """Biggest first (first-fit decreasing), barcode as the tie-break."""
    return sorted(
        items,
        key=lambda i: (-i.size, -(i.dimensions.volume if i.dimensions else 0), i.barcode),
    )


def _reserve_allows(bank: Bank, plan: _Plan, size: SizeClass, group: Sequence[Item]) -> bool:
    """Would taking one more free door of ``size`` for ``group`` still leave room for transit?

    Every in-transit item of class t needs its own free door of class t or larger; with nested
    classes that is possible exactly when, for every t, the free doors of class >= t are at
    least the reserve of class >= t.
    """
    if not bank.in_transit():
        return True  # nothing announced: nothing held back
    reserve = bank.transit_reserve()
    used = dict(plan.transit_used)
    for item in group:
        if item.in_transit and item.barcode in bank.in_transit():
            used[item.size] += 1
    free_at_least = 0
    needed_at_least = 0
    for cls in _DESCENDING:
        free = bank.free_count(Purpose.PICKUP, cls) - plan.taken_per_size[cls]
        if cls is size:
            free -= 1
        free_at_least += free
        needed_at_least += max(0, reserve[cls] - used[cls])
        if free_at_least < needed_at_least:
            return False
    return True


def _first_free(numbers: list[int], skip: Collection[int]) -> int | None:
    for number in numbers:
        if number not in skip:
            return number
    return None


def _find(
    bank: Bank,
    plan: _Plan,
    group: Sequence[Item],
    purpose: Purpose,
    reach: Reach | None,
    exclude: Collection[int],
    sizes: tuple[SizeClass, ...],
) -> Compartment | None:
    """The lowest-numbered free door of the first size in ``sizes`` that holds all of ``group``."""
    smallest = max(item.size for item in group)
    skip = plan.taken | set(exclude)
    for size in sizes:
        if size < smallest:
            continue
        best: int | None = None
        for free_group in bank.free_groups(purpose, size):
            rep = free_group.representative
            if reach is not None and not reach.contains(rep.height_cm):
                continue
            if not fits_together(rep, group):
                continue
            number = _first_free(free_group.numbers, skip)
            if number is not None and (best is None or number < best):
                best = number
        if best is None:
            continue
        if purpose is Purpose.PICKUP and not _reserve_allows(bank, plan, size, group):
            continue
        return bank.compartment(best)
    return None


def _take(bank: Bank, plan: _Plan, compartment: Compartment, group: Sequence[Item]) -> None:
    plan.taken.add(compartment.number)
    plan.taken_per_size[compartment.size] += 1
    for item in group:
        if item.in_transit and item.barcode in bank.in_transit():
            plan.transit_used[item.size] += 1
    plan.placements.append(Placement(compartment.number, tuple(group)))


def _pack(compartment: Compartment, items: list[Item], already: Fraction) -> list[Item]:
    """First-fit: take items in order while they fit; the chosen ones leave ``items``."""
    chosen: list[Item] = []
    load = already
    for item in list(items):
        if fits_alone(compartment, item) and load + item_load(compartment, item) <= 1:
            load += item_load(compartment, item)
            chosen.append(item)
            items.remove(item)
    return chosen


def _join_existing(
    bank: Bank, plan: _Plan, items: list[Item], purpose: Purpose, exclude: Collection[int]
) -> None:
    patron = items[0].patron_ref
    for number in bank.compartments_of(patron):
        if not items:
            return
        compartment = bank.compartment(number)
        reservation = bank.reservation(number)
        if (
            number in exclude
            or compartment.purpose is not purpose
            or compartment.state not in HOLDING_STATES
            or reservation is None
            or reservation.patron_ref != patron
        ):
            continue
        already = load_of(compartment, (c.item for c in bank.contents(number)))
        chosen = _pack(compartment, items, already)
        if chosen:
            plan.taken.add(number)
            plan.placements.append(Placement(number, tuple(chosen), existing=True))


def _fill_new(
    bank: Bank,
    plan: _Plan,
    items: list[Item],
    purpose: Purpose,
    reach: Reach | None,
    exclude: Collection[int],
) -> list[Item]:
    """Place ``items`` into free doors; returns the items that fit nowhere."""
    unplaced: list[Item] = []
    while items:
        whole = _find(bank, plan, items, purpose, reach, exclude, _ASCENDING)
        if whole is not None:
            _take(bank, plan, whole, list(items))
            items.clear()
            break
        biggest = items[0]
        door = _find(bank, plan, [biggest], purpose, reach, exclude, _DESCENDING)
        if door is None:
            unplaced.append(items.pop(0))
            continue
        _take(bank, plan, door, _pack(door, items, Fraction(0)))
    return unplaced


def _no_fit_reason(items: Sequence[Item], purpose: Purpose, reach: Reach | None) -> str:
    size = max(item.size for item in items)
    where = "hold shelf" if purpose is Purpose.PICKUP else "staff desk"
    needs = ", with charger" if any(i.needs_charger for i in items) else ""
    dims = " that fits the item's dimensions" if any(i.dimensions for i in items) else ""
    return (
        f"{where} instead: no free {purpose.value} compartment of size {size.name} "
        f"or larger{dims}{needs}"
    )


def allocate(
    bank: Bank,
    items: Sequence[Item],
    *,
    purpose: Purpose = Purpose.PICKUP,
    reach: Reach | None = None,
    exclude: Collection[int] = (),
) -> Allocation | NoFit:
    """Choose compartments for one patron's ``items`` without changing the bank.

    Returns ``NoFit`` when no item can be placed, else an ``Allocation`` whose ``left_over``
    lists items that did not fit. ``exclude``: doors not to use (e.g. one that just failed).
    Raises ``ValueError`` for no items, items of several patrons, or the return purpose.
    """
    if not items:
        raise ValueError("nothing to allocate")
    patron = items[0].patron_ref
    if any(item.patron_ref != patron for item in items):
        raise ValueError("allocate one patron's items at a time")
    if purpose is Purpose.RETURN:
        raise ValueError("return compartments are opened, not allocated")
    plan = _Plan()
    remaining = _order(items)
    _join_existing(bank, plan, remaining, purpose, exclude)
    if reach is not None:
        remaining = _fill_new(bank, plan, remaining, purpose, reach, exclude)
    unplaced = _fill_new(bank, plan, remaining, purpose, None, exclude)
    if not plan.placements:
        return NoFit(tuple(items), _no_fit_reason(items, purpose, reach))
    left_over = (
        NoFit(tuple(unplaced), _no_fit_reason(unplaced, purpose, reach)) if unplaced else None
    )
    return Allocation(bank.bank_id, patron, tuple(plan.placements), left_over)


def apply_allocation(
    bank: Bank,
    allocation: Allocation,
    *,
    at: datetime,
    actor: str,
    expires_at: datetime | None = None,
) -> list[StateChanged]:
    """Reserve the allocated doors (or add to the patron's existing ones); returns audit events.

    Raises ``IllegalTransition`` if the bank changed since ``allocate`` and a door is taken.
    """
    events: list[StateChanged] = []
    for placement in allocation.placements:
        events.extend(
            bank.place(
                placement.compartment, placement.items, at=at, actor=actor, expires_at=expires_at
            )
        )
    return events
