from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ils_adapters.base import (
    CheckinKind,
    CirculationStatus,
    IlsAdapter,
    IlsUnavailable,
    OutcomeUnknown,
)
from ils_adapters.memory import MemoryIls
from ils_adapters.profiles import EVERGREEN, KOHA
from tests.ils_adapters.contract import NOW, IlsContract, World


class TestMemoryIlsBehavesLikeKoha(IlsContract):
    @pytest.fixture
    def world(self) -> World:
        ils = MemoryIls(KOHA)
        return World(adapter=ils, seed=ils)


class TestMemoryIlsBehavesLikeEvergreen(IlsContract):
    @pytest.fixture
    def world(self) -> World:
        ils = MemoryIls(EVERGREEN)
        return World(adapter=ils, seed=ils)


def test_the_memory_ils_satisfies_the_adapter_protocol() -> None:
    assert isinstance(MemoryIls(), IlsAdapter)


def test_an_offline_ils_raises_unavailable_and_changes_nothing() -> None:
    ils = MemoryIls()
    ils.add_patron("P1", "1234")
    ils.add_item("I1", home="LOCKER1")
    ils.lend("P1", "I1")
    ils.go_offline()

    with pytest.raises(IlsUnavailable):
        ils.checkin("I1", at="LOCKER1", returned_at=NOW)

    ils.go_online()
    assert ils.item_status("I1").status is CirculationStatus.CHARGED


def test_a_lost_reply_leaves_the_checkin_applied_so_the_caller_must_verify() -> None:
    ils = MemoryIls()
    ils.add_patron("P1", "1234")
    ils.add_item("I1", home="LOCKER1")
    ils.lend("P1", "I1")
    ils.lose_next_reply()

    with pytest.raises(OutcomeUnknown):
        ils.checkin("I1", at="LOCKER1", returned_at=NOW)

    assert not ils.item_status("I1").status.on_loan
    assert ils.checkins == [("I1", "LOCKER1", NOW)]


def test_hold_shelf_expiry_follows_the_clock_and_the_configured_days() -> None:
    now = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    ils = MemoryIls(clock=lambda: now, hold_shelf_days=5)
    ils.add_patron("P1", "1234")
    ils.add_item("I1", home="MAIN")
    ils.place_hold("P1", "I1", pickup_location="LOCKER1")

    outcome = ils.checkin("I1", at="LOCKER1", returned_at=now)

    assert outcome.hold_expires == now + timedelta(days=5)
    assert ils.item_status("I1").hold_shelf_expires == now + timedelta(days=5)


def test_a_koha_account_with_checked_in_ok_answers_a_repeat_with_ok() -> None:
    ils = MemoryIls(replace(KOHA, repeat_checkin_ok=True))
    ils.add_item("I1", home="LOCKER1")

    outcome = ils.checkin("I1", at="LOCKER1", returned_at=NOW)

    assert outcome.ok and outcome.kind is CheckinKind.NO_HOLD
