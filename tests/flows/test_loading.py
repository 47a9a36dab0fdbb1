"""Staff loading with the in-memory ILS (on SQLite; the marked ones on PostgreSQL too)."""

from __future__ import annotations

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.loading import ScanOutcome, scan_item
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import LoadRow, TransitRow
from bridge.web.staff.scan_words import scan_message
from ils_adapters.memory import MemoryIls
from lockers.drivers.simulated import SimFault
from tests.flows.conftest import audit_kinds, load_door, messages, sim, state_of
from tests.support.db import both_databases


@both_databases
def test_a_hold_for_this_bank_opens_a_door_and_the_patron_hears_only_after_it_closes(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")

    result = scan_item(rt, "main-lobby", "B1", "staff:ann")

    assert result.outcome is ScanOutcome.DOOR_OPEN
    assert result.compartment == 1  # the smallest free door that fits an S item
    assert sim(rt).is_open(1)
    assert ils.checkins[-1][:2] == ("B1", "MAIN-LOCKER")  # checked in AT the bank's branch
    assert state_of(rt, 1) == "reserved"
    assert messages(rt) == []

    load_door(rt, 1)

    assert state_of(rt, 1) == "loaded"
    [note] = messages(rt)
    assert note.patron == "P1"
    assert note.facts["doors"] == [1]
    assert note.facts["titles"] == ["Book 1"]
    assert len(note.secrets["code"]) >= 6 and len(note.secrets["qr_token"]) >= 22


def test_a_second_item_for_the_same_patron_joins_their_door_without_checking_the_first_in_again(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    ils.place_hold("P1", "B2", pickup_location="MAIN-LOCKER")
    first = scan_item(rt, "main-lobby", "B1", "staff", size="S")
    load_door(rt, first.compartment or 0)
    first_checkins = [c for c in ils.checkins if c[0] == "B1"]

    second = scan_item(rt, "main-lobby", "B2", "staff", size="S")

    assert second.outcome is ScanOutcome.DOOR_OPEN
    # An S door holds one S item, so B2 gets its own door; B1 is untouched.
    assert second.compartment != first.compartment
    assert [c for c in ils.checkins if c[0] == "B1"] == first_checkins
    assert state_of(rt, first.compartment or 0) == "loaded"


def test_small_items_of_one_patron_share_a_medium_door(rt: Runtime, ils: MemoryIls) -> None:
    ils.place_hold("P1", "B1", pickup_location="EAST-LOCKER")
    ils.place_hold("P1", "B2", pickup_location="EAST-LOCKER")
    first = scan_item(rt, "east-station", "B1", "staff", size="S")
    load_door(rt, first.compartment or 0, "east-station")

    second = scan_item(rt, "east-station", "B2", "staff", size="S")

    assert second.outcome is ScanOutcome.DOOR_OPEN
    assert second.compartment == first.compartment == 1  # an M door holds two S items
    load_door(rt, 1, "east-station")
    assert state_of(rt, 1, "east-station") == "loaded"
    assert [m.facts["titles"] for m in messages(rt)] == [["Book 1"], ["Book 2"]]


def test_scanning_an_item_already_loaded_changes_nothing_and_asks_no_one(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    first = scan_item(rt, "main-lobby", "B1", "staff")
    load_door(rt, first.compartment or 0)
    before = list(ils.checkins)

    again = scan_item(rt, "main-lobby", "B1", "staff")

    assert again.outcome is ScanOutcome.ALREADY_LOADED
    assert again.compartment == first.compartment
    assert ils.checkins == before
    assert len(messages(rt)) == 1


def test_an_unknown_barcode_is_refused_with_a_reason(rt: Runtime) -> None:
    result = scan_item(rt, "main-lobby", "NOPE", "staff")
    assert result.outcome is ScanOutcome.UNKNOWN_ITEM
    assert "does not know this barcode" in scan_message(rt.settings, result)
    assert "scan_refused" in audit_kinds(rt)


def test_an_item_on_loan_is_not_checked_in_by_a_locker_scan(rt: Runtime, ils: MemoryIls) -> None:
    ils.lend("P2", "B3")
    result = scan_item(rt, "main-lobby", "B3", "staff")
    assert result.outcome is ScanOutcome.CHECKED_OUT
    assert ils.item_status("B3").status.on_loan
    assert ils.checkins == []


def test_a_hold_for_another_bank_is_routed_there_and_holds_a_door_for_it(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P2", "B4", pickup_location="EAST-LOCKER")

    result = scan_item(rt, "main-lobby", "B4", "staff", size="M")

    assert result.outcome is ScanOutcome.SEND_ELSEWHERE
    assert result.destination_bank == "east-station"
    assert "East station" in scan_message(rt.settings, result)
    with unit_of_work(rt.sessions) as s:
        transit = s.scalars(select(TransitRow)).one()
    assert (transit.bank_id, transit.size) == ("east-station", "M")

    arrived = scan_item(rt, "east-station", "B4", "courier")

    assert arrived.outcome is ScanOutcome.DOOR_OPEN
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(TransitRow)).all() == []


def test_a_full_bank_says_hold_shelf_instead(rt: Runtime, ils: MemoryIls) -> None:
    for n in range(1, 5):
        ils.place_hold("P2", f"B{n}", pickup_location="EAST-LOCKER")
        assert scan_item(rt, "east-station", f"B{n}", "staff", size="M").door_open
    ils.place_hold("P1", "B5", pickup_location="EAST-LOCKER")

    full = scan_item(rt, "east-station", "B5", "staff", size="M")

    assert full.outcome is ScanOutcome.BANK_FULL
    assert "hold shelf instead" in scan_message(rt.settings, full)


@both_databases
def test_a_door_that_fails_twice_goes_out_of_service_and_the_item_moves(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    sim(rt).set_fault(SimFault.JAMMED, 1)

    result = scan_item(rt, "main-lobby", "B1", "staff")

    assert result.outcome is ScanOutcome.DOOR_OPEN
    assert result.compartment == 2
    assert state_of(rt, 1) == "out_of_service"
    assert state_of(rt, 2) == "reserved"
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(LoadRow.compartment)).all() == [2]


def test_an_offline_controller_leaves_the_model_empty_and_says_hold_shelf(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    sim(rt).set_fault(SimFault.OFFLINE)

    result = scan_item(rt, "main-lobby", "B1", "staff")

    assert result.outcome is ScanOutcome.DOOR_FAILED
    assert "hold shelf" in scan_message(rt.settings, result)
    assert state_of(rt, 1) == "free"
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(LoadRow)).all() == []


def test_the_ils_being_down_is_said_plainly_and_nothing_is_reserved(
    rt: Runtime, ils: MemoryIls
) -> None:
    ils.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")
    ils.go_offline()

    result = scan_item(rt, "main-lobby", "B1", "staff")

    assert result.outcome is ScanOutcome.ILS_UNAVAILABLE and result.retry
    assert state_of(rt, 1) == "free"
