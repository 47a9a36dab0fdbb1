"""Values of the locker domain: sizes, compartments, items, contents and reservations."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from lockers.states import CompartmentState


class SizeClass(enum.IntEnum):
    """Vendor size classes, ordered: a smaller class always fits into a larger one."""

    S = 1
    M = 2
    L = 3
    XL = 4

    @property
    def units(self) -> int:
        """Capacity units: one S item fills an S door; an XL door holds eight S items."""
        return 1 << (self.value - 1)


class Purpose(enum.StrEnum):
    PICKUP = "pickup"
    RETURN = "return"
    EQUIPMENT = "equipment"


@dataclass(frozen=True)
class Dimensions:
    """Outer size of an item or inner size of a compartment, in millimetres."""

    width_mm: int
    height_mm: int
    depth_mm: int

    @property
    def volume(self) -> int:
        return self.width_mm * self.height_mm * self.depth_mm

    def fits_in(self, inner: Dimensions) -> bool:
        """True when a box of these dimensions fits, turned any way, into ``inner``."""
        mine = sorted((self.width_mm, self.height_mm, self.depth_mm))
        theirs = sorted((inner.width_mm, inner.height_mm, inner.depth_mm))
        return all(a <= b for a, b in zip(mine, theirs, strict=True))


@dataclass(frozen=True)
class Reach:
    """A patron's accessible reach: compartments whose floor height lies in [min_cm, max_cm]."""

    min_cm: int
    max_cm: int

    def contains(self, height_cm: int) -> bool:
        return self.min_cm <= height_cm <= self.max_cm


@dataclass(frozen=True)
class Compartment:
    """One door of a locker bank.

    ``state_before_out_of_service`` remembers where to go back to after a fault is cleared.
    A return door is a bin: ``capacity`` is how many deposits it takes before it is full and
    ``deposits`` how many it holds since it was last emptied (both unused by other doors).
    """

    bank_id: str
    number: int
    size: SizeClass
    purpose: Purpose
    height_cm: int
    inner: Dimensions | None = None
    has_charger: bool = False
    state: CompartmentState = CompartmentState.FREE
    state_before_out_of_service: CompartmentState | None = None
    capacity: int = 1
    deposits: int = 0


@dataclass(frozen=True)
class Item:
    """A physical item to place: barcode, the patron it waits for, and its size.

    ``in_transit`` marks an item that was announced as travelling to this bank: it may use the
    free capacity held back for such items. ``needs_charger``: equipment that must charge.
    """

    barcode: str
    patron_ref: str
    size: SizeClass
    dimensions: Dimensions | None = None
    in_transit: bool = False
    needs_charger: bool = False


@dataclass(frozen=True)
class Content:
    """An item that is (or is about to be) inside a compartment."""

    compartment: int
    item: Item


@dataclass(frozen=True)
class Reservation:
    """A compartment held for one patron's items until ``expires_at`` (the hold-shelf date)."""

    bank_id: str
    compartment: int
    patron_ref: str
    item_barcodes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None = None
