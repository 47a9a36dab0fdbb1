"""The locker bank aggregate: compartments, what is inside them, reservations, and the index
of free compartments that allocation reads.

A ``Bank`` is the only thing that changes compartment state; every change goes through the
transition table in ``lockers.states`` and returns a ``StateChanged`` audit event for the caller
to store. The free index is kept per (purpose, size class) and, inside that, per physically
identical group of doors (height, inner dimensions, charger), each a sorted list of numbers, so
allocation looks at a handful of groups instead of every compartment.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime

from lockers.errors import IllegalTransition, UnknownCompartment
from lockers.events import StateChanged
from lockers.model import Compartment, Content, Dimensions, Item, Purpose, Reservation, SizeClass
from lockers.states import (
    PICKUP_CYCLE,
    RETURN_CYCLE,
    CompartmentState,
    check_compartment_transition,
)

_S = CompartmentState

GroupKey = tuple[int, Dimensions | None, bool]  # height_cm, inner, has_charger
HOLDING_STATES = frozenset({_S.RESERVED, _S.LOADED})


class FreeGroup:
    """Free doors that are physically alike: one representative and their sorted numbers."""

    __slots__ = ("numbers", "representative")

    def __init__(self, representative: Compartment) -> None:
        self.representative = representative
        self.numbers: list[int] = []


class Bank:
    """One locker bank. Build it from stored rows; read events back from every mutator."""

    def __init__(
        self,
        bank_id: str,
        compartments: Iterable[Compartment],
        *,
        contents: Iterable[Content] = (),
        reservations: Iterable[Reservation] = (),
        in_transit: Mapping[str, SizeClass] | None = None,
    ) -> None:
        self.bank_id = bank_id
        self._compartments: dict[int, Compartment] = {}
        self._contents: dict[int, list[Content]] = defaultdict(list)
        self._reservations: dict[int, Reservation] = {}
        self._by_patron: dict[str, set[int]] = defaultdict(set)
        self._in_transit: dict[str, SizeClass] = dict(in_transit or {})
        self._free: dict[tuple[Purpose, SizeClass], dict[GroupKey, FreeGroup]] = defaultdict(dict)
        self._free_count: dict[tuple[Purpose, SizeClass], int] = defaultdict(int)
        for compartment in compartments:
            if compartment.bank_id != bank_id:
                raise ValueError(f"compartment {compartment.number} belongs to another bank")
            if compartment.number in self._compartments:
                raise ValueError(f"duplicate compartment number {compartment.number}")
            self._compartments[compartment.number] = compartment
            if compartment.state is _S.FREE:
                self._index_add(compartment)
        for content in contents:
            self._require(content.compartment)
            self._contents[content.compartment].append(content)
            self._by_patron[content.item.patron_ref].add(content.compartment)
        for reservation in reservations:
            self._require(reservation.compartment)
            self._reservations[reservation.compartment] = reservation
            self._by_patron[reservation.patron_ref].add(reservation.compartment)

    # -- reading -------------------------------------------------------------------------------

    def compartment(self, number: int) -> Compartment:
        """The compartment; raises ``UnknownCompartment``."""
        return self._require(number)

    def compartments(self) -> Iterator[Compartment]:
        return iter(sorted(self._compartments.values(), key=lambda c: c.number))

    def __len__(self) -> int:
        return len(self._compartments)

    def contents(self, number: int) -> tuple[Content, ...]:
        return tuple(self._contents.get(number, ()))

    def reservation(self, number: int) -> Reservation | None:
        return self._reservations.get(number)

    def compartments_of(self, patron_ref: str) -> tuple[int, ...]:
        """Numbers of the compartments holding or reserved for the patron, ascending."""
        return tuple(sorted(self._by_patron.get(patron_ref, ())))

    def free_groups(self, purpose: Purpose, size: SizeClass) -> Iterable[FreeGroup]:
        return self._free.get((purpose, size), {}).values()

    def free_count(self, purpose: Purpose, size: SizeClass) -> int:
        return self._free_count[(purpose, size)]

    def in_transit(self) -> Mapping[str, SizeClass]:
        """Barcodes announced as travelling here, with their size class."""
        return dict(self._in_transit)

    def transit_reserve(self) -> dict[SizeClass, int]:
        """Free pickup compartments per size class that ordinary allocations must leave free."""
        counts = dict.fromkeys(SizeClass, 0)
        for size in self._in_transit.values():
            counts[size] += 1
        return counts

    # -- in-transit announcements --------------------------------------------------------------

    def expect_in_transit(self, barcode: str, size: SizeClass) -> None:
        """Hold back a free compartment of ``size`` (or larger) for an item on its way here."""
        self._in_transit[barcode] = size

    def forget_in_transit(self, barcode: str) -> None:
        self._in_transit.pop(barcode, None)

    # -- changing state ------------------------------------------------------------------------

    def transition(
        self, number: int, to: CompartmentState, *, at: datetime, actor: str, reason: str
    ) -> StateChanged:
        """Move one compartment to ``to``; raises ``IllegalTransition`` or ``UnknownCompartment``.

        Entering ``free``/``return_free`` purges the patron-item links (docs/operations.md, Data
        retention).
        """
        current = self._require(number)
        check_compartment_transition(current.state, to)
        cycle = RETURN_CYCLE if current.purpose is Purpose.RETURN else PICKUP_CYCLE
        if to not in cycle:
            raise IllegalTransition("compartment", current.state.value, to.value)
        before_oos = current.state if to is _S.OUT_OF_SERVICE else None
        # An emptied return door starts counting its deposits again.
        deposits = 0 if to is _S.RETURN_FREE else current.deposits
        updated = dataclasses.replace(
            current, state=to, state_before_out_of_service=before_oos, deposits=deposits
        )
        if current.state is _S.FREE:
            self._index_remove(current)
        self._compartments[number] = updated
        if to is _S.FREE:
            self._index_add(updated)
        if to in (_S.FREE, _S.RETURN_FREE):
            self._clear(number)
        return StateChanged(
            what="compartment",
            bank_id=self.bank_id,
            subject=str(number),
            compartment=number,
            from_state=current.state.value,
            to_state=to.value,
            at=at,
            actor=actor,
            reason=reason,
        )

    def restore_target(self, number: int) -> CompartmentState:
        """Where an out-of-service compartment goes back to, judged by what it holds."""
        current = self._require(number)
        if current.purpose is Purpose.RETURN:
            return _S.RETURN_OCCUPIED if current.deposits else _S.RETURN_FREE
        previous = current.state_before_out_of_service
        if self._contents.get(number) and number not in self._reservations:
            # Items nobody waits for any more: staff take them out.
            return _S.STAFF_REMOVE
        if self._contents.get(number) or number in self._reservations:
            if previous in (_S.RESERVED, _S.LOADED, _S.EXPIRED, _S.STAFF_REMOVE):
                return previous
            return _S.LOADED if self._contents.get(number) else _S.RESERVED
        return _S.FREE

    def return_to_service(
        self, number: int, *, at: datetime, actor: str, reason: str
    ) -> StateChanged:
        """Bring an out-of-service compartment back to the state that fits what it holds."""
        return self.transition(
            number, self.restore_target(number), at=at, actor=actor, reason=reason
        )

    def change_purpose(
        self, number: int, purpose: Purpose, *, at: datetime, actor: str
    ) -> StateChanged | None:
        """Give an empty door another purpose (its configuration changed): it becomes the new
        purpose's kind of empty door, ``free`` or ``return_free``.

        Returns the state change, or None when the state stays (pickup <-> equipment, or the
        same purpose). Raises ``IllegalTransition`` for a door that is not empty (anything but
        ``free`` or ``return_free``, or holding, reserved or counting deposits): what is inside
        belongs to its present purpose.
        """
        current = self._require(number)
        if purpose is current.purpose:
            return None
        empty = (
            current.state in (_S.FREE, _S.RETURN_FREE)
            and not self._contents.get(number)
            and number not in self._reservations
            and not current.deposits
        )
        to = _S.RETURN_FREE if purpose is Purpose.RETURN else _S.FREE
        if not empty:
            raise IllegalTransition("compartment", current.state.value, to.value)
        updated = dataclasses.replace(current, purpose=purpose, state=to)
        if current.state is _S.FREE:
            self._index_remove(current)
        self._compartments[number] = updated
        if to is _S.FREE:
            self._index_add(updated)
        if to is current.state:
            return None
        return StateChanged(
            what="compartment",
            bank_id=self.bank_id,
            subject=str(number),
            compartment=number,
            from_state=current.state.value,
            to_state=to.value,
            at=at,
            actor=actor,
            reason=f"purpose {current.purpose.value} -> {purpose.value}",
        )

    def place(
        self,
        number: int,
        items: Iterable[Item],
        *,
        at: datetime,
        actor: str,
        expires_at: datetime | None = None,
        reason: str = "allocated",
    ) -> list[StateChanged]:
        """Reserve ``number`` for ``items`` (one patron), or add them to that patron's compartment.

        Only this compartment's contents change. Raises ``IllegalTransition`` when the compartment
        is neither free nor already holding this patron's items.
        """
        current = self._require(number)
        new_items = list(items)
        if not new_items:
            return []
        patron = new_items[0].patron_ref
        if any(item.patron_ref != patron for item in new_items):
            raise ValueError("one compartment holds one patron's items")
        events: list[StateChanged] = []
        existing = self._reservations.get(number)
        if current.state is _S.FREE:
            events.append(self.transition(number, _S.RESERVED, at=at, actor=actor, reason=reason))
            self._reservations[number] = Reservation(
                bank_id=self.bank_id,
                compartment=number,
                patron_ref=patron,
                item_barcodes=tuple(item.barcode for item in new_items),
                created_at=at,
                expires_at=expires_at,
            )
        elif current.state in HOLDING_STATES and existing and existing.patron_ref == patron:
            self._reservations[number] = dataclasses.replace(
                existing,
                item_barcodes=existing.item_barcodes + tuple(i.barcode for i in new_items),
                expires_at=expires_at or existing.expires_at,
            )
        else:
            raise IllegalTransition("compartment", current.state.value, _S.RESERVED.value)
        self._contents[number].extend(Content(number, item) for item in new_items)
        self._by_patron[patron].add(number)
        for item in new_items:
            self._in_transit.pop(item.barcode, None)
        return events

    def take_reservation(self, number: int) -> tuple[Reservation | None, tuple[Content, ...]]:
        """Detach a reservation and its contents from ``number`` (to move them elsewhere)."""
        self._require(number)
        reservation = self._reservations.get(number)
        contents = self.contents(number)
        self._clear(number)
        return reservation, contents

    # -- return doors: bins that take ``capacity`` deposits ----------------------------------

    def accepts_deposit(self, number: int) -> bool:
        """True when return door ``number`` is in service and takes one more deposit."""
        current = self._require(number)
        return (
            current.purpose is Purpose.RETURN
            and current.state in (_S.RETURN_FREE, _S.RETURN_OCCUPIED)
            and current.deposits < current.capacity
        )

    def door_for_deposit(self, *, unavailable: Collection[int] = ()) -> int | None:
        """The return door to offer the next deposit, or None when every one is full.

        A door that already holds returns and takes more comes first, so one bin fills before
        the next is started and staff empty fewer doors; among equals the lowest number.
        ``unavailable``: doors in use right now (open, or promised to another patron).
        """
        accepting = [
            c
            for c in self._compartments.values()
            if c.number not in unavailable and self.accepts_deposit(c.number)
        ]
        if not accepting:
            return None
        return min(accepting, key=lambda c: (c.deposits == 0, c.number)).number

    def deposit(
        self, number: int, *, count: int = 1, at: datetime, actor: str, reason: str = "deposit"
    ) -> list[StateChanged]:
        """Counts ``count`` items the door has shut on; the first makes the door occupied.

        The items are inside whatever the count was, so this records them even past the
        capacity (ask :meth:`accepts_deposit` before opening the door). Raises
        ``IllegalTransition`` for a door that is not for returns.
        """
        current = self._require(number)
        if current.purpose is not Purpose.RETURN:
            raise IllegalTransition("compartment", current.state.value, _S.RETURN_OCCUPIED.value)
        if count < 1:
            raise ValueError("a deposit puts at least one item into the door")
        events: list[StateChanged] = []
        if current.state is _S.RETURN_FREE:
            events.append(
                self.transition(number, _S.RETURN_OCCUPIED, at=at, actor=actor, reason=reason)
            )
        current = self._compartments[number]
        self._compartments[number] = dataclasses.replace(current, deposits=current.deposits + count)
        return events

    # -- internals -----------------------------------------------------------------------------

    def _require(self, number: int) -> Compartment:
        try:
            return self._compartments[number]
        except KeyError:
            raise UnknownCompartment(f"bank {self.bank_id} has no compartment {number}") from None

    def _clear(self, number: int) -> None:
        for content in self._contents.pop(number, []):
            self._forget_patron(content.item.patron_ref, number)
        reservation = self._reservations.pop(number, None)
        if reservation is not None:
            self._forget_patron(reservation.patron_ref, number)

    def _forget_patron(self, patron_ref: str, number: int) -> None:
        numbers = self._by_patron.get(patron_ref)
        if numbers is None:
            return
        still_linked = number in self._reservations or any(
            c.item.patron_ref == patron_ref for c in self._contents.get(number, ())
        )
        if not still_linked:
            numbers.discard(number)
        if not numbers:
            del self._by_patron[patron_ref]

    @staticmethod
    def _group_key(compartment: Compartment) -> GroupKey:
        return (compartment.height_cm, compartment.inner, compartment.has_charger)

    def _index_add(self, compartment: Compartment) -> None:
        key = (compartment.purpose, compartment.size)
        groups = self._free[key]
        group_key = self._group_key(compartment)
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = FreeGroup(compartment)
        bisect.insort(group.numbers, compartment.number)
        self._free_count[key] += 1

    def _index_remove(self, compartment: Compartment) -> None:
        key = (compartment.purpose, compartment.size)
        group = self._free[key][self._group_key(compartment)]
        position = bisect.bisect_left(group.numbers, compartment.number)
        if position < len(group.numbers) and group.numbers[position] == compartment.number:
            del group.numbers[position]
            self._free_count[key] -= 1
