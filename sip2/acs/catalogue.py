"""The reference ACS's catalogue: branches, SIP accounts, patrons, items, holds, transits.

Records are frozen values; the :class:`Catalogue` holds the current version of each and
replaces a record when circulation changes it. Only the engine mutates a catalogue (under
its lock); tests read it through the same methods.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class ItemStatus(enum.Enum):
    """Where an item is in its circulation life (SIP2 circulation status in brackets)."""

    AVAILABLE = "available"  # 03
    CHARGED = "charged"  # 04
    ON_HOLD_SHELF = "on_hold_shelf"  # 08: captured for a hold, waiting at its pickup branch
    IN_TRANSIT = "in_transit"  # 10
    LOST = "lost"  # 12
    MISSING = "missing"  # 13


class HoldState(enum.Enum):
    PENDING = "pending"  # not yet tied to an item
    IN_TRANSIT = "in_transit"  # captured, travelling to the pickup branch
    WAITING = "waiting"  # captured, on the hold shelf at the pickup branch


@dataclass(frozen=True)
class Branch:
    code: str
    name: str
    locker_bank: bool = False


@dataclass(frozen=True)
class Account:
    """A SIP login. Koha ties each account to an institution and a branch (its location)."""

    user: str
    password: str
    institution: str
    location: str
    checkin: bool = True
    checkout: bool = True
    # Koha: the account option `checked_in_ok` turns "not checked out" into ok=1.
    checked_in_ok: bool = False


@dataclass(frozen=True)
class Patron:
    barcode: str
    pin: str
    first_name: str
    last_name: str
    email: str = ""
    phone: str = ""
    language: str = "en"
    category: str = "adult"
    blocked: bool = False
    fines: Decimal = Decimal("0.00")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Item:
    barcode: str
    title: str
    home: str  # owning branch (SIP2 permanent location)
    at: str  # current branch
    record: str = ""  # bibliographic record id; title-level holds target it
    media: str = "book"
    status: ItemStatus = ItemStatus.AVAILABLE
    charged_to: str | None = None
    due: datetime | None = None
    fee: Decimal = Decimal("0.00")  # charged on checkout (equipment rental)
    categories: tuple[str, ...] = ()  # patron categories allowed to borrow it; () = all
    loan_days: int = 21

    @property
    def record_id(self) -> str:
        return self.record or self.title


@dataclass(frozen=True)
class Hold:
    id: str
    patron: str
    pickup: str
    item: str | None = None  # item-level hold
    record: str | None = None  # title-level hold
    expires: date | None = None  # the hold is not wanted after this date
    state: HoldState = HoldState.PENDING
    captured_item: str | None = None
    shelf_expires: date | None = None  # last day on the hold shelf (SIP2 18 CM)
    placed: int = 0  # queue order: lower goes first

    def wants(self, item: Item) -> bool:
        if self.captured_item is not None:
            return self.captured_item == item.barcode
        if self.item is not None:
            return self.item == item.barcode
        return self.record == item.record_id


@dataclass(frozen=True)
class Transit:
    item: str
    source: str
    destination: str
    hold: str | None = None


@dataclass
class Catalogue:
    """Everything the reference ACS knows. Not thread-safe by itself: the engine locks it."""

    institution: str = "DEMO"
    library_name: str = "Demo Library"
    currency: str = "USD"
    fine_limit: Decimal = Decimal("5.00")
    hold_shelf_days: int = 7
    overdue_fine_per_day: Decimal = Decimal("0.00")
    branches: dict[str, Branch] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    patrons: dict[str, Patron] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    transits: dict[str, Transit] = field(default_factory=dict)  # by item barcode

    def patron(self, barcode: str) -> Patron | None:
        return self.patrons.get(barcode)

    def item(self, barcode: str) -> Item | None:
        return self.items.get(barcode)

    def hold(self, hold_id: str) -> Hold | None:
        return self.holds.get(hold_id)

    def transit(self, item_barcode: str) -> Transit | None:
        return self.transits.get(item_barcode)

    def put(self, record: Patron | Item | Hold | Transit) -> None:
        """Store a new version of a record (replacing the one with the same key)."""
        if isinstance(record, Patron):
            self.patrons[record.barcode] = record
        elif isinstance(record, Item):
            self.items[record.barcode] = record
        elif isinstance(record, Hold):
            self.holds[record.id] = record
        else:
            self.transits[record.item] = record

    def holds_of(self, patron_barcode: str) -> list[Hold]:
        return [h for h in self.holds.values() if h.patron == patron_barcode]

    def queue_for(self, item: Item) -> list[Hold]:
        """Holds this item could fill, in queue order (captured ones first)."""
        wanted = [h for h in self.holds.values() if h.wants(item)]
        return sorted(wanted, key=lambda h: (h.state is HoldState.PENDING, h.placed, h.id))

    def record_queue(self, item: Item) -> list[Hold]:
        """Koha: holds on the whole bibliographic record (item- and title-level)."""
        record_items = {i.barcode for i in self.items.values() if i.record_id == item.record_id}
        return [
            h for h in self.holds.values() if h.record == item.record_id or (h.item in record_items)
        ]

    def loans_of(self, patron_barcode: str) -> Iterator[Item]:
        return (i for i in self.items.values() if i.charged_to == patron_barcode)

    def next_hold_id(self) -> str:
        n = len(self.holds) + 1
        while f"H{n}" in self.holds:
            n += 1
        return f"H{n}"

    def next_placed(self) -> int:
        return max((h.placed for h in self.holds.values()), default=0) + 1
