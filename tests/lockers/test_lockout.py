from __future__ import annotations

from datetime import timedelta

import pytest

from lockers.errors import LockedOut
from lockers.lockout import GuessGuard, InMemoryLockoutStore, Subject, SubjectKind

from .conftest import FakeClock

CARD = Subject(SubjectKind.CARD, "hash-of-card")
CODE = Subject(SubjectKind.CODE, "b1:door-7")
KIOSK = Subject(SubjectKind.KIOSK, "kiosk-1")


def guard(clock: FakeClock) -> GuessGuard:
    return GuessGuard(InMemoryLockoutStore(), clock)


def fail(
    g: GuessGuard, clock: FakeClock, n: int, *subjects: Subject, gap: timedelta = timedelta(0)
) -> None:
    for _ in range(n):
        g.check(*subjects)
        g.failed(*subjects)
        clock.now += gap


@pytest.mark.parametrize("subject", [CARD, CODE])
def test_five_consecutive_failures_lock_for_fifteen_minutes(
    clock: FakeClock, subject: Subject
) -> None:
    g = guard(clock)
    fail(g, clock, 4, subject)
    g.check(subject)  # four failures: still allowed
    g.failed(subject)
    with pytest.raises(LockedOut) as info:
        g.check(subject)
    assert info.value.until == clock.now + timedelta(minutes=15)
    clock.now += timedelta(minutes=14, seconds=59)
    with pytest.raises(LockedOut):
        g.check(subject)
    clock.now += timedelta(seconds=1)
    g.check(subject)


def test_a_success_ends_the_consecutive_run(clock: FakeClock) -> None:
    g = guard(clock)
    fail(g, clock, 4, CARD)
    g.succeeded(CARD)
    fail(g, clock, 4, CARD)
    g.check(CARD)


def test_ten_failures_within_24_hours_lock_until_the_first_leaves_the_window(
    clock: FakeClock,
) -> None:
    g = guard(clock)
    start = clock.now
    for _ in range(2):
        fail(g, clock, 4, CARD, gap=timedelta(minutes=1))
        g.succeeded(CARD)  # never five in a row
    fail(g, clock, 2, CARD, gap=timedelta(minutes=1))
    with pytest.raises(LockedOut) as info:
        g.check(CARD)
    assert info.value.until == start + timedelta(hours=24)
    clock.now = start + timedelta(hours=23)
    with pytest.raises(LockedOut):
        g.check(CARD)
    clock.now = start + timedelta(hours=24)
    g.check(CARD)


def test_a_kiosk_backs_off_after_twenty_failures_in_ten_minutes(clock: FakeClock) -> None:
    g = guard(clock)
    start = clock.now
    cards = [Subject(SubjectKind.CARD, f"card-{n}") for n in range(20)]
    for card in cards[:19]:
        g.check(card, KIOSK)
        g.failed(card, KIOSK)
        clock.now += timedelta(seconds=10)
    g.check(KIOSK)
    g.failed(cards[19], KIOSK)
    with pytest.raises(LockedOut) as info:
        g.check(Subject(SubjectKind.CARD, "fresh"), KIOSK)
    assert info.value.subject_kind == "kiosk"
    assert info.value.until == start + timedelta(minutes=10)
    clock.now = start + timedelta(minutes=10)
    g.check(KIOSK)


def test_twenty_kiosk_failures_spread_over_more_than_ten_minutes_do_not_lock(
    clock: FakeClock,
) -> None:
    g = guard(clock)
    fail(g, clock, 25, KIOSK, gap=timedelta(seconds=40))
    g.check(KIOSK)


def test_lockout_state_lives_in_the_store_and_survives_a_new_guard(clock: FakeClock) -> None:
    store = InMemoryLockoutStore()
    fail(GuessGuard(store, clock), clock, 5, CARD)
    with pytest.raises(LockedOut):
        GuessGuard(store, clock).check(CARD)
