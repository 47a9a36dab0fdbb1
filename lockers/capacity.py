"""How full a compartment is and whether items fit: the one place that decides "fits".

Without dimensions, size classes decide: each class has capacity units (S=1, M=2, L=4, XL=8),
so an L door holds two M items. When both the item and the compartment have dimensions, the
item must fit turned any way into the inner space, and it fills its volume share divided by
``FILL_FACTOR`` (boxes never pack perfectly).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from lockers.model import Compartment, Item

FILL_FACTOR = Fraction(7, 10)
FULL = Fraction(1)


def item_load(compartment: Compartment, item: Item) -> Fraction:
    """The share of ``compartment`` that ``item`` takes (1 = full)."""
    if item.dimensions is not None and compartment.inner is not None:
        return Fraction(item.dimensions.volume) / (compartment.inner.volume * FILL_FACTOR)
    return Fraction(item.size.units, compartment.size.units)


def fits_alone(compartment: Compartment, item: Item) -> bool:
    """True when ``item`` fits into the empty compartment by size class and dimensions."""
    if item.size > compartment.size:
        return False
    if item.needs_charger and not compartment.has_charger:
        return False
    if item.dimensions is not None and compartment.inner is not None:
        return item.dimensions.fits_in(compartment.inner) and item_load(compartment, item) <= FULL
    return True


def load_of(compartment: Compartment, items: Iterable[Item]) -> Fraction:
    return sum((item_load(compartment, item) for item in items), Fraction(0))


def fits_together(
    compartment: Compartment, items: Iterable[Item], already: Fraction = FULL * 0
) -> bool:
    """True when every item fits alone and all of them fit on top of ``already``."""
    total = already
    for item in items:
        if not fits_alone(compartment, item):
            return False
        total += item_load(compartment, item)
        if total > FULL:
            return False
    return True
