"""The one contract every IlsAdapter must meet.

A test module subclasses :class:`IlsContract` and provides a ``world`` fixture: the adapter
under test plus a :class:`Seeder` that puts patrons, items, holds and loans into the ILS
behind it (directly for the in-memory fake, through the reference ACS's data for SIP2).
Expectations that differ between ILSs are read from ``adapter.profile``, never hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import pytest

from ils_adapters.base import (
    CheckinKind,
    CheckoutKind,
    CirculationStatus,
    IlsAdapter,
)


class Seeder(Protocol):
    def add_patron(
        self,
        barcode: str,
        pin: str,
        *,
        block_reasons: tuple[str, ...] = (),
        email: str | None = None,
        phone: str | None = None,
        language: str | None = None,
    ) -> None: ...

    def add_item(
        self, barcode: str, *, home: str, title: str = "", fee: Decimal | None = None
    ) -> None: ...

    def place_hold(self, patron: str, item: str, *, pickup_location: str) -> None: ...

    def lend(self, patron: str, item: str) -> None: ...


@dataclass(frozen=True)
class World:
    adapter: IlsAdapter
    seed: Seeder
    bank: str = "LOCKER1"  # the locker bank's branch / pickup location
    main: str = "MAIN"  # another branch of the same library


NOW = datetime(2024, 5, 6, 10, 30, tzinfo=UTC)


class IlsContract:
    """Behaviour every adapter shows, whichever ILS is behind it."""

    @pytest.fixture
    def world(self) -> World:  # pragma: no cover - overridden by each adapter's test module
        raise NotImplementedError

    # --- check-in -------------------------------------------------------------------------

    def test_the_ils_answers_a_ping_when_it_is_up(self, world: World) -> None:
        assert world.adapter.ping() is True

    def test_a_returned_loan_with_no_hold_is_checked_in_and_stays(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("I1", home=world.bank)
        world.seed.lend("P1", "I1")

        outcome = world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        assert outcome.ok and outcome.kind is CheckinKind.NO_HOLD
        assert not world.adapter.item_status("I1").status.on_loan

    def test_an_item_held_for_this_bank_is_captured_for_the_patron(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("I1", home=world.main)
        world.seed.place_hold("P1", "I1", pickup_location=world.bank)

        outcome = world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        assert outcome.kind is CheckinKind.HOLD_HERE
        assert outcome.destination in (None, world.bank)
        if world.adapter.profile.sends_hold_patron:
            assert outcome.hold_patron == "P1"
        status = world.adapter.item_status("I1")
        assert status.status is CirculationStatus.WAITING_ON_HOLD_SHELF
        if world.adapter.profile.sends_hold_shelf_expiry:
            assert status.hold_shelf_expires is not None
            assert status.hold_shelf_expires > datetime.now(UTC) - timedelta(days=1)

    def test_an_item_held_elsewhere_is_sent_to_that_pickup_location(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("I1", home=world.bank)
        world.seed.place_hold("P1", "I1", pickup_location=world.main)

        outcome = world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        assert outcome.kind is CheckinKind.HOLD_ELSEWHERE
        assert outcome.destination == world.main

    def test_an_item_from_another_branch_is_routed_home(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("I1", home=world.main)
        world.seed.lend("P1", "I1")

        outcome = world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        assert outcome.ok and outcome.kind is CheckinKind.TRANSIT
        assert outcome.destination == world.main

    def test_an_unknown_barcode_is_reported_as_unknown(self, world: World) -> None:
        outcome = world.adapter.checkin("NOSUCH", at=world.bank, returned_at=NOW)

        assert not outcome.ok and outcome.kind is CheckinKind.UNKNOWN_ITEM
        assert world.adapter.item_status("NOSUCH").known is False

    def test_a_repeat_checkin_is_either_fine_or_says_not_checked_out(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("I1", home=world.bank)
        world.seed.lend("P1", "I1")
        world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        again = world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        if world.adapter.profile.repeat_checkin_ok:
            assert again.ok and again.kind is CheckinKind.NO_HOLD
        else:
            assert not again.ok and again.kind is CheckinKind.NOT_CHECKED_OUT
        # Either way the caller verifies, and the item is no longer on loan.
        assert not world.adapter.item_status("I1").status.on_loan

    def test_loading_a_second_item_leaves_the_first_on_the_hold_shelf(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        for item in ("I1", "I2"):
            world.seed.add_item(item, home=world.main)
            world.seed.place_hold("P1", item, pickup_location=world.bank)
        world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        world.adapter.checkin("I2", at=world.bank, returned_at=NOW)

        first = world.adapter.item_status("I1")
        assert first.status is CirculationStatus.WAITING_ON_HOLD_SHELF

    # --- patrons --------------------------------------------------------------------------

    def test_the_right_pin_lets_a_patron_in_good_standing_borrow(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")

        check = world.adapter.verify_patron("P1", "1234")

        assert check.known and check.pin_ok is True and check.may_borrow

    def test_a_wrong_pin_is_refused(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")

        check = world.adapter.verify_patron("P1", "9999")

        assert check.pin_ok is not True and not check.may_borrow

    def test_a_blocked_patron_is_told_why_in_plain_words(self, world: World) -> None:
        world.seed.add_patron("P1", "1234", block_reasons=("card reported lost",))

        check = world.adapter.verify_patron("P1", "1234")

        assert check.blocked and not check.may_borrow
        assert check.block_reasons and all(r.strip() for r in check.block_reasons)

    def test_an_unknown_card_is_not_known(self, world: World) -> None:
        check = world.adapter.verify_patron("NOBODY", "1234")

        assert not check.known and not check.may_borrow

    def test_patron_contact_is_returned_for_notices(self, world: World) -> None:
        world.seed.add_patron("P1", "1234", email="reader@example.org", phone="+15551234")

        contact = world.adapter.patron_contact("P1")

        assert contact is not None and contact.email == "reader@example.org"

    def test_an_unknown_patron_has_no_contact(self, world: World) -> None:
        assert world.adapter.patron_contact("NOBODY") is None

    # --- checkout -------------------------------------------------------------------------

    def test_the_holding_patron_can_check_out_a_captured_hold(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("I1", home=world.main)
        world.seed.place_hold("P1", "I1", pickup_location=world.bank)
        world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        outcome = world.adapter.checkout("P1", "I1")

        assert outcome.ok and outcome.kind is CheckoutKind.LOANED
        assert outcome.due is not None
        assert world.adapter.item_status("I1").status.on_loan

    def test_another_patron_cannot_check_out_a_held_item(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_patron("P2", "1234")
        world.seed.add_item("I1", home=world.main)
        world.seed.place_hold("P1", "I1", pickup_location=world.bank)
        world.adapter.checkin("I1", at=world.bank, returned_at=NOW)

        outcome = world.adapter.checkout("P2", "I1")

        assert not outcome.ok and outcome.kind is CheckoutKind.REFUSED
        assert world.adapter.item_status("I1").status is CirculationStatus.WAITING_ON_HOLD_SHELF

    def test_a_fee_must_be_acknowledged_before_the_loan(self, world: World) -> None:
        world.seed.add_patron("P1", "1234")
        world.seed.add_item("LAPTOP1", home=world.bank, fee=Decimal("2.00"))

        first = world.adapter.checkout("P1", "LAPTOP1")
        second = world.adapter.checkout("P1", "LAPTOP1", fee_acknowledged=True)

        assert not first.ok and first.kind is CheckoutKind.FEE_NEEDS_ACKNOWLEDGEMENT
        assert second.ok and second.kind is CheckoutKind.LOANED

    def test_a_blocked_patron_cannot_check_out(self, world: World) -> None:
        world.seed.add_patron("P1", "1234", block_reasons=("fines owed",))
        world.seed.add_item("I1", home=world.bank)

        outcome = world.adapter.checkout("P1", "I1")

        assert not outcome.ok
        assert not world.adapter.item_status("I1").status.on_loan
