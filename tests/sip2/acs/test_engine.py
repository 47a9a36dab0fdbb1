"""The reference ACS's rules, sans I/O: requests in, replies and catalogue changes out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sip2.acs.catalogue import Catalogue, HoldState, ItemStatus
from sip2.acs.engine import Engine, Session
from sip2.acs.ledger import Action
from sip2.codec import Message
from sip2.dates import format_date
from tests.sip2.acs.support import (
    ANA,
    BEN,
    BOOK_HOLD_HERE,
    EAST_BOOK,
    ERIN,
    FARID,
    GRACE,
    HOTSPOT,
    LAPTOP,
    LOANED,
    NOW,
    PLAIN,
    STAMP,
    WAITING,
    checkin,
    checkout,
    item_information,
    login,
    patron_information,
    sc_status,
    small_catalogue,
)


class Sc:
    """An SC session wired straight to an engine."""

    def __init__(self, behaviour: str = "koha", user: str = "lockers-main") -> None:
        self.engine = Engine(small_catalogue(), behaviour, clock=lambda: NOW)
        self.session = Session()
        password = {"lockers-main": "demo-main", "lockers-east": "demo-east"}.get(user, "pw")
        assert self.ask(login(user, password)).fixed_value("ok") == "1"

    def ask(self, request: Message) -> Message:
        outcome = self.engine.handle(self.session, request)
        assert outcome.reply is not None
        return outcome.reply

    @property
    def catalogue(self) -> Catalogue:
        return self.engine.catalogue


@pytest.fixture
def sc() -> Sc:
    return Sc()


def test_a_request_before_login_closes_the_connection_without_a_reply() -> None:
    engine = Engine(small_catalogue(), clock=lambda: NOW)
    outcome = engine.handle(Session(), sc_status())
    assert outcome.reply is None and outcome.close


def test_a_wrong_password_is_refused_and_leaves_the_session_logged_out() -> None:
    engine = Engine(small_catalogue(), clock=lambda: NOW)
    session = Session()
    reply = engine.handle(session, login("lockers-main", "wrong")).reply
    assert reply is not None and reply.fixed_value("ok") == "0"
    assert engine.handle(session, sc_status()).close


def test_sc_status_says_checkin_and_checkout_are_allowed(sc: Sc) -> None:
    reply = sc.ask(sc_status())
    assert reply.command == "98"
    assert (reply.fixed_value("online_status"), reply.fixed_value("checkin_ok")) == ("Y", "Y")
    assert reply.fixed_value("checkout_ok") == "Y"
    assert reply.fixed_value("protocol_version") == "2.00"
    assert reply.first("AN") == "MAIN-LOCKER"


def test_patron_information_sends_cq_only_when_the_pin_was_sent(sc: Sc) -> None:
    without = sc.ask(patron_information(ANA))
    assert without.first("CQ") is None
    assert sc.ask(patron_information(ANA, pin="1234")).first("CQ") == "Y"
    assert sc.ask(patron_information(ANA, pin="0000")).first("CQ") == "N"


def test_patron_information_describes_the_patron(sc: Sc) -> None:
    reply = sc.ask(patron_information(ANA, pin="1234", summary="Y         "))
    assert reply.first("BL") == "Y"
    assert reply.first("AE") == "Ana Tester"
    assert reply.first("BE") == "ana@example.org"
    assert reply.first("BF") == "555-0100"
    assert reply.fixed_value("language") == "008"  # Spanish
    assert reply.fixed_value("unavailable_holds_count") == "0002"  # H1 and H3 not yet captured
    assert reply.fixed_value("hold_items_count") == "0000"


def test_an_unknown_patron_is_not_valid(sc: Sc) -> None:
    reply = sc.ask(patron_information("99999", pin="1234"))
    assert (reply.first("BL"), reply.first("CQ")) == ("N", "N")
    assert (reply.fixed_value("patron_status") or "").startswith("YYYY")


def test_a_blocked_patron_shows_denied_privileges_and_a_screen_message(sc: Sc) -> None:
    reply = sc.ask(patron_information(ERIN, pin="5678"))
    assert (reply.fixed_value("patron_status") or "").startswith("Y")
    assert "blocked" in (reply.first("AF") or "")


def test_checkout_ignores_the_pin(sc: Sc) -> None:
    reply = sc.ask(checkout(BEN, PLAIN, pin="wrong"))
    assert reply.fixed_value("ok") == "1"
    assert sc.catalogue.items[PLAIN].charged_to == BEN
    assert reply.first("AH") == format_date(
        datetime(2025, 3, 31, 23, 59, tzinfo=UTC), server_tz=UTC
    )


def test_checkout_refuses_a_blocked_patron_with_a_screen_message(sc: Sc) -> None:
    reply = sc.ask(checkout(ERIN, PLAIN))
    assert reply.fixed_value("ok") == "0"
    assert "blocked" in (reply.first("AF") or "")
    assert sc.catalogue.items[PLAIN].status is ItemStatus.AVAILABLE


def test_checkout_refuses_a_patron_whose_fines_are_over_the_limit(sc: Sc) -> None:
    reply = sc.ask(checkout(FARID, PLAIN))
    assert reply.fixed_value("ok") == "0"
    assert "12.50" in (reply.first("AF") or "")


def test_equipment_for_adults_is_refused_to_a_child_card(sc: Sc) -> None:
    assert sc.ask(checkout(GRACE, LAPTOP)).fixed_value("ok") == "0"
    assert sc.ask(checkout(BEN, LAPTOP)).fixed_value("ok") == "1"


def test_an_item_with_a_fee_needs_the_fee_acknowledged(sc: Sc) -> None:
    refused = sc.ask(checkout(BEN, HOTSPOT))
    assert refused.fixed_value("ok") == "0"
    assert refused.first("BV") == "2.00"
    accepted = sc.ask(checkout(BEN, HOTSPOT, fee=True))
    assert accepted.fixed_value("ok") == "1"
    assert sc.catalogue.patrons[BEN].fines == Decimal("2.00")


def test_an_item_on_hold_for_someone_else_is_not_lent(sc: Sc) -> None:
    reply = sc.ask(checkout(BEN, BOOK_HOLD_HERE))
    assert reply.fixed_value("ok") == "0"
    assert "hold" in (reply.first("AF") or "")


def test_checking_out_a_held_item_to_its_patron_fills_the_hold(sc: Sc) -> None:
    sc.ask(checkin(BOOK_HOLD_HERE))
    assert sc.ask(checkout(ANA, BOOK_HOLD_HERE)).fixed_value("ok") == "1"
    assert "H1" not in sc.catalogue.holds
    assert sc.engine.ledger.checkouts(BOOK_HOLD_HERE)[0].hold == "H1"


def test_koha_checkin_at_the_pickup_branch_captures_the_hold_with_cv_01(sc: Sc) -> None:
    reply = sc.ask(checkin(LOANED))
    assert reply.fixed_value("ok") == "1"
    assert (reply.first("CV"), reply.first("CT")) == ("01", "MAIN-LOCKER")
    assert (reply.first("CY"), reply.first("DA")) == (ANA, "Ana Tester")
    assert reply.first("AA") == BEN  # whose loan ended
    hold = sc.catalogue.holds["H3"]
    assert hold.state is HoldState.WAITING and hold.captured_item == LOANED
    info = sc.ask(item_information(LOANED))
    assert info.fixed_value("circulation_status") == "08"
    assert info.first("CM") == "20250317    235900"  # seven days on the hold shelf


def test_a_hold_for_another_branch_answers_cv_02_and_sends_the_item_there() -> None:
    sc = Sc(user="lockers-east")
    reply = sc.ask(checkin(EAST_BOOK, location="EAST-LOCKER"))
    assert (reply.first("CV"), reply.first("CT")) == ("02", "MAIN-LOCKER")
    assert reply.first("CY") == BEN
    info = sc.ask(item_information(EAST_BOOK))
    assert info.fixed_value("circulation_status") == "10"
    assert info.first("CT") == "MAIN-LOCKER"
    # Arriving at the pickup branch, the same item is captured there.
    arrived = sc.ask(checkin(EAST_BOOK, location="MAIN-LOCKER"))
    assert arrived.first("CV") == "01"


def test_an_item_without_a_hold_that_belongs_elsewhere_is_transferred_home_with_cv_04(
    sc: Sc,
) -> None:
    reply = sc.ask(checkin(PLAIN))
    assert (reply.first("CV"), reply.first("CT")) == ("04", "MAIN")
    assert reply.first("CY") is None


def test_koha_answers_a_repeat_checkin_with_ok_0_not_checked_out(sc: Sc) -> None:
    assert sc.ask(checkin(LOANED)).fixed_value("ok") == "1"
    again = sc.ask(checkin(LOANED))
    assert again.fixed_value("ok") == "0"
    assert again.first("AF") == "Item not checked out"
    assert sc.engine.ledger.loans_closed(LOANED) == 1


def test_a_koha_account_with_checked_in_ok_answers_a_repeat_checkin_with_ok_1() -> None:
    sc = Sc(user="lenient")
    sc.ask(checkin(LOANED))
    assert sc.ask(checkin(LOANED)).fixed_value("ok") == "1"


@pytest.mark.parametrize("behaviour", ["evergreen", "folio"])
def test_evergreen_and_folio_answer_a_repeat_checkin_with_ok_1(behaviour: str) -> None:
    sc = Sc(behaviour)
    sc.ask(checkin(LOANED))
    assert sc.ask(checkin(LOANED)).fixed_value("ok") == "1"


def test_evergreen_sends_the_hold_patron_and_folio_does_not() -> None:
    evergreen = Sc("evergreen").ask(checkin(LOANED))
    assert (evergreen.first("CV"), evergreen.first("CY")) == ("01", ANA)
    folio = Sc("folio").ask(checkin(LOANED))
    assert folio.first("CV") == "01"
    assert (folio.first("CY"), folio.first("DA")) == (None, None)


def test_an_unknown_item_is_refused_with_a_screen_message(sc: Sc) -> None:
    reply = sc.ask(checkin("nonexistent"))
    assert reply.fixed_value("ok") == "0"
    assert reply.first("AF") == "Invalid item barcode"
    assert len(sc.engine.ledger) == 0


def test_a_backdated_return_date_is_kept_in_the_ledger_and_spares_overdue_fines(sc: Sc) -> None:
    # LOANED was due 2025-03-01; returned (deposited) on 2025-02-28, checked in 10 days later.
    sc.ask(checkin(LOANED, returned="20250228    100000"))
    entry = sc.engine.ledger.checkins(LOANED)[0]
    assert entry.return_date == datetime(2025, 2, 28, 10, 0, tzinfo=UTC)
    assert entry.at == NOW and entry.loan_closed and entry.location == "MAIN-LOCKER"
    assert sc.catalogue.patrons[BEN].fines == Decimal("0.00")


def test_a_late_return_date_costs_overdue_fines(sc: Sc) -> None:
    sc.ask(checkin(LOANED, returned=STAMP))
    assert sc.catalogue.patrons[BEN].fines == Decimal("4.50")  # 9 days x 0.50


def test_item_information_hold_queue_length_follows_the_behaviour() -> None:
    assert Sc("koha").ask(item_information(WAITING)).first("CF") == "1"
    assert Sc("evergreen").ask(item_information(WAITING)).first("CF") == "1"
    assert Sc("evergreen").ask(item_information(PLAIN)).first("CF") == "0"
    assert Sc("folio").ask(item_information(WAITING)).first("CF") is None


def test_item_information_reports_charged_items_with_their_due_date(sc: Sc) -> None:
    info = sc.ask(item_information(LOANED))
    assert info.fixed_value("circulation_status") == "04"
    assert info.first("AH") == "20250301    235900"
    assert sc.ask(item_information("nope")).first("AF") == "Invalid item barcode"


def test_renew_extends_the_loan_unless_someone_holds_the_item(sc: Sc) -> None:
    sc.ask(checkout(BEN, PLAIN))
    renew = Message.build(
        "29",
        [("AO", "DEMO"), ("AA", BEN), ("AB", PLAIN)],
        third_party_allowed="N",
        no_block="N",
        transaction_date=STAMP,
        nb_due_date=" " * 18,
    )
    assert sc.ask(renew).fixed_value("ok") == "1"
    held = Message(renew.command, renew.fixed, (("AO", "DEMO"), ("AA", BEN), ("AB", LOANED)))
    assert sc.ask(held).fixed_value("ok") == "0"
    assert [e.action for e in sc.engine.ledger.entries(item=PLAIN)] == [
        Action.CHECKOUT,
        Action.RENEW,
    ]


def test_holds_can_be_placed_and_cancelled(sc: Sc) -> None:
    def hold(mode: str) -> Message:
        return Message.build(
            "15",
            [("BS", "EAST-LOCKER"), ("AO", "DEMO"), ("AA", BEN), ("AB", PLAIN)],
            hold_mode=mode,
            transaction_date=STAMP,
        )

    placed = sc.ask(hold("+"))
    assert (placed.fixed_value("ok"), placed.first("BR"), placed.first("BS")) == (
        "1",
        "1",
        "EAST-LOCKER",
    )
    assert sc.ask(checkin(PLAIN)).first("CV") == "02"
    assert sc.ask(hold("-")).fixed_value("ok") == "1"
    assert [h for h in sc.catalogue.holds_of(BEN) if h.item == PLAIN] == []
    assert [e.action for e in sc.engine.ledger.entries()] == [
        Action.HOLD_PLACED,
        Action.CHECKIN,
        Action.HOLD_CANCELLED,
    ]


def test_end_session_is_acknowledged(sc: Sc) -> None:
    reply = sc.ask(Message.build("35", [("AO", "DEMO"), ("AA", ANA)], transaction_date=STAMP))
    assert (reply.command, reply.fixed_value("end_session")) == ("36", "Y")


def test_request_acs_resend_repeats_the_last_reply(sc: Sc) -> None:
    first = sc.ask(item_information(PLAIN))
    assert sc.ask(Message("97")) == first
