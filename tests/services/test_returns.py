"""Returns through the real outbox and rq path, on SQLite and PostgreSQL, with the fake ILS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bridge.services.returns import checkin, recording
from bridge.services.returns.findings import LOAD_FOR_PICKUP, StaffReason
from bridge.services.returns.worklist import (
    DepositNotFound,
    NotNeedingStaff,
    resolve_needs_staff,
    returns_overview,
)
from bridge.services.sweeper import sweep_outbox
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow
from bridge.web.staff.return_words import explain_entry
from ils_adapters.base import CheckinOutcome, IlsRejected
from ils_adapters.memory import MemoryIls
from tests.services.conftest import Returns
from tests.support.db import both_databases


@both_databases
def test_a_deposit_is_checked_in_backdated_to_the_deposit_time_at_the_banks_branch(
    returns_rt: Returns,
) -> None:
    d = returns_rt.deposit("B1", ago=timedelta(minutes=5), depositor="P1")
    returns_rt.work()
    row = returns_rt.row(d)
    assert row.state == "checked_in"
    assert returns_rt.ils.checkins == [
        ("B1", "MAIN-LOCKER", returns_rt.clock.now - timedelta(minutes=5))
    ]
    assert row.depositor is None  # the ILS confirmed: the patron link is gone
    assert returns_rt.audit(d) == [
        (None, "recorded"),
        ("recorded", "checking_in"),
        ("checking_in", "checked_in"),
    ]


@both_databases
def test_an_unknown_barcode_goes_to_staff_with_that_reason(returns_rt: Returns) -> None:
    d = returns_rt.deposit("NOPE-404")
    returns_rt.work()
    row = returns_rt.row(d)
    assert (row.state, row.reason) == ("needs_staff", StaffReason.UNKNOWN_ITEM.value)
    [entry] = returns_overview(returns_rt.rt).needs_staff
    assert entry.item_barcode == "NOPE-404"
    assert "does not know this barcode" in explain_entry(entry)


@both_databases
def test_an_item_filling_a_hold_here_is_offered_for_a_pickup_compartment(
    returns_rt: Returns,
) -> None:
    returns_rt.ils.place_hold("P2", "B2", pickup_location="MAIN-LOCKER")
    d = returns_rt.deposit("B2")
    returns_rt.work()
    row = returns_rt.row(d)
    assert (row.state, row.reason, row.suggestion) == ("needs_staff", "hold_here", LOAD_FOR_PICKUP)
    assert row.ils_confirmed_at is not None


@both_databases
def test_an_item_on_hold_elsewhere_is_sent_in_transit_to_that_branch(returns_rt: Returns) -> None:
    returns_rt.ils.place_hold("P2", "B3", pickup_location="WEST")
    d = returns_rt.deposit("B3")
    returns_rt.work()
    row = returns_rt.row(d)
    assert (row.state, row.reason, row.destination) == ("needs_staff", "transit", "WEST")
    [entry] = returns_overview(returns_rt.rt).needs_staff
    assert explain_entry(entry) == "Send the item to WEST."


@both_databases
def test_an_item_from_another_branch_goes_home(returns_rt: Returns) -> None:
    d = returns_rt.deposit("AWAY1")
    returns_rt.work()
    assert (returns_rt.row(d).reason, returns_rt.row(d).destination) == ("transit", "EAST-LOCKER")


class _RefusingIls(MemoryIls):
    def checkin(self, item: str, **kw: object) -> CheckinOutcome:  # type: ignore[override]
        raise IlsRejected("checkin refused", screen_message="Item is withdrawn")


@both_databases
def test_a_check_in_the_ils_refuses_goes_to_staff_with_its_screen_message(
    returns_rt: Returns,
) -> None:
    returns_rt.rt._cache["ils:main-lobby"] = _RefusingIls()
    d = returns_rt.deposit("B1")
    returns_rt.work()
    row = returns_rt.row(d)
    assert (row.state, row.reason, row.screen_message) == (
        "needs_staff",
        "rejected",
        "Item is withdrawn",
    )
    assert "Item is withdrawn" in explain_entry(returns_overview(returns_rt.rt).needs_staff[0])


@both_databases
def test_an_old_deposit_already_checked_in_elsewhere_goes_to_staff_without_a_checkin(
    returns_rt: Returns,
) -> None:
    d = returns_rt.deposit("B4", ago=timedelta(hours=3))
    returns_rt.ils.checkin("B4", at="MAIN", returned_at=returns_rt.clock.now)  # the desk did it
    before = len(returns_rt.ils.checkins)
    returns_rt.work()
    assert (returns_rt.row(d).state, returns_rt.row(d).reason) == ("needs_staff", "not_on_loan")
    assert len(returns_rt.ils.checkins) == before


@both_databases
def test_an_old_deposit_lent_again_since_goes_to_staff_without_closing_the_new_loan(
    returns_rt: Returns,
) -> None:
    d = returns_rt.deposit("B5", ago=timedelta(hours=3))
    returns_rt.ils.checkin("B5", at="MAIN", returned_at=returns_rt.clock.now)
    returns_rt.ils.lend("P2", "B5", due=returns_rt.clock.now + timedelta(days=60))
    returns_rt.work()
    assert (returns_rt.row(d).state, returns_rt.row(d).reason) == ("needs_staff", "changed_hands")
    assert returns_rt.ils.item_status("B5").status.on_loan


@both_databases
def test_an_old_deposit_still_on_loan_is_verified_then_checked_in(returns_rt: Returns) -> None:
    d = returns_rt.deposit("B6", ago=timedelta(hours=3))
    returns_rt.work()
    assert returns_rt.row(d).state == "checked_in"
    assert [c[0] for c in returns_rt.ils.checkins] == ["B6"]


@both_databases
def test_a_lost_reply_is_verified_by_item_status_and_never_checked_in_twice(
    returns_rt: Returns,
) -> None:
    returns_rt.ils.lose_next_reply()
    d = returns_rt.deposit("B1")
    returns_rt.work()
    assert returns_rt.row(d).state == "waiting_for_ils"
    returns_rt.clock.advance(seconds=3)
    sweep_outbox(returns_rt.rt)
    returns_rt.work()
    assert returns_rt.row(d).state == "checked_in"
    assert [c[0] for c in returns_rt.ils.checkins] == ["B1"]  # applied once, by the first try


@both_databases
def test_a_repeat_checkin_answered_not_checked_out_counts_once_item_status_confirms(
    returns_rt: Returns,
) -> None:
    returns_rt.ils.add_item("SHELF1", home="MAIN-LOCKER")  # never lent: Koha says "not checked out"
    d = returns_rt.deposit("SHELF1")
    returns_rt.work()
    row = returns_rt.row(d)
    assert row.state == "checked_in"
    assert row.ils_confirmed_at is not None


class _KilledAfterApplying(MemoryIls):
    """The worker process dies between the ILS applying a check-in and us storing it."""

    def checkin(self, item: str, **kw: object) -> CheckinOutcome:  # type: ignore[override]
        super().checkin(item, **kw)  # type: ignore[arg-type]
        raise SystemExit("worker killed")


@both_databases
def test_a_deposit_whose_worker_died_mid_checkin_is_finished_after_the_lease_without_a_second_checkin(
    returns_rt: Returns,
) -> None:
    dying = _KilledAfterApplying(clock=returns_rt.clock)
    dying.add_item("K1", home="MAIN-LOCKER")
    dying.lend("P1", "K1")
    returns_rt.rt._cache["ils:main-lobby"] = dying
    d = returns_rt.deposit("K1")
    with pytest.raises(SystemExit):
        checkin.check_in_deposit(returns_rt.rt, d)
    assert returns_rt.row(d).state == "checking_in"
    returns_rt.rt.redis.flushall()  # the job is gone with the worker
    returns_rt.clock.advance(seconds=returns_rt.rt.settings.outbox_lease_seconds + 1)
    assert sweep_outbox(returns_rt.rt) == 1
    returns_rt.work()
    assert returns_rt.row(d).state == "checked_in"
    assert [c[0] for c in dying.checkins] == ["K1"]


@both_databases
def test_deposits_are_accepted_while_the_ils_is_down_and_replayed_in_order_once_it_answers(
    returns_rt: Returns,
) -> None:
    ils = returns_rt.ils
    ils.go_offline()
    first = returns_rt.deposit("B7")
    returns_rt.clock.advance(seconds=1)
    other = returns_rt.deposit("B8")
    returns_rt.clock.advance(seconds=1)
    second = returns_rt.deposit("B7")  # the same item again (a second copy of the event)
    returns_rt.work()
    assert {returns_rt.row(i).state for i in (first, other, second)} <= {
        "waiting_for_ils",
        "recorded",
    }
    overview = returns_overview(returns_rt.rt)
    assert overview.backlog == 3
    assert overview.oldest_waiting == returns_rt.row(first).deposited_at
    # Still down: the sweeper's probe fails and nothing is checked in.
    returns_rt.clock.advance(seconds=10)
    sweep_outbox(returns_rt.rt)
    returns_rt.work()
    assert ils.checkins == []
    ils.go_online()
    returns_rt.clock.advance(seconds=1)  # well before any backoff would have run out
    sweep_outbox(returns_rt.rt)
    returns_rt.work()
    returns_rt.clock.advance(seconds=5)
    sweep_outbox(returns_rt.rt)
    returns_rt.work()
    assert [c[0] for c in ils.checkins if c[0] == "B7"] == ["B7", "B7"]
    assert [c[2] for c in ils.checkins if c[0] == "B7"] == [
        returns_rt.row(first).deposited_at,
        returns_rt.row(second).deposited_at,
    ]
    assert returns_rt.row(first).state == "checked_in"
    assert returns_rt.row(other).state == "checked_in"
    assert returns_overview(returns_rt.rt).backlog == 0
    assert ("checking_in", "waiting_for_ils") in returns_rt.audit(first)


@both_databases
def test_a_repeated_controller_event_gives_the_same_deposit_and_one_checkin(
    returns_rt: Returns,
) -> None:
    a = returns_rt.deposit("B9", event_id="door-13-close-77")
    b = returns_rt.deposit("B9", event_id="door-13-close-77")
    other_bank = returns_rt.deposit("B9", event_id="door-13-close-77", bank_id="east-station")
    assert a == b != other_bank
    returns_rt.work()
    with unit_of_work(returns_rt.rt.sessions) as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 2
    assert [c[0] for c in returns_rt.ils.checkins] == ["B9", "B9"]  # one per deposit


@both_databases
def test_staff_resolve_a_deposit_and_it_leaves_the_list(returns_rt: Returns) -> None:
    d = returns_rt.deposit("NOPE-1", depositor="P1")
    returns_rt.work()
    assert returns_rt.row(d).depositor == "P1"  # kept while staff may need it
    resolve_needs_staff(returns_rt.rt, d, "alice", "found it on the cart")
    assert returns_overview(returns_rt.rt).needs_staff == ()
    assert returns_rt.row(d).depositor is None
    with pytest.raises(NotNeedingStaff):
        resolve_needs_staff(returns_rt.rt, d, "alice", "again")
    with pytest.raises(DepositNotFound):
        resolve_needs_staff(returns_rt.rt, 999_999, "alice", "?")


@both_databases
def test_the_retention_job_purges_links_of_deposits_that_ended_long_enough_ago(
    returns_rt: Returns,
) -> None:
    d = returns_rt.deposit("NOPE-2", depositor="P1")
    returns_rt.work()
    assert recording.purge_depositor_links(returns_rt.rt) == 0
    returns_rt.clock.advance(hours=25)
    assert recording.purge_depositor_links(returns_rt.rt) == 1
    assert returns_rt.row(d).depositor is None


@both_databases
def test_a_deposit_for_an_unknown_bank_or_without_a_barcode_is_refused(
    returns_rt: Returns,
) -> None:
    with pytest.raises(KeyError):
        returns_rt.deposit("B1", bank_id="nowhere")
    with pytest.raises(ValueError):
        returns_rt.deposit("  ")
