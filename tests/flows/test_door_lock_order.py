"""Door events racing the bank's use cases on PostgreSQL: every transaction that writes a door's
row takes the bank's row first (``bridge.services.banks.lock_bank``), so none of them deadlocks.

A door-opened event that wrote its compartment row before locking the bank deadlocked with a
door-closed event (which locks the bank, then saves the bank's doors) on the same doors.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services import events
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from lockers.drivers.base import DoorClosed, DoorOpened
from tests.support.db import pg_only

BANK = "main-lobby"
DOORS = (1, 2, 13)  # storage doors and a return door (its close may record deposits)
SECONDS = 4.0



@pg_only
def test_door_events_in_parallel_on_one_bank_never_deadlock(rt: Runtime) -> None:
    before = _doors(rt)
    assert before == {1: (False, "free"), 2: (False, "free"), 13: (False, "return_free")}
    start = rt.clock()
    tick = itertools.count(1)
    tick_lock = threading.Lock()
    failures: list[BaseException] = []

    def at() -> timedelta:
        # Each event a later controller time, so none is ignored as a stale resend.
        with tick_lock:
            return timedelta(milliseconds=next(tick))

    def controller(kind: type[DoorOpened] | type[DoorClosed]) -> int:
        done = 0
        until = time.monotonic() + SECONDS
        while time.monotonic() < until and not failures:
            for door in DOORS:
                try:
                    events.apply(rt, kind(BANK, door, start + at()))
                except Exception as exc:  # a deadlock, or anything else: reported below
                    failures.append(exc)
                    return done
                done += 1
        return done

    with ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(controller, k) for k in (DoorOpened, DoorClosed) * 2]
        applied = sum(r.result() for r in runs)

    assert not failures, f"{len(failures)} event(s) failed, first: {failures[0]!r}"
    assert applied > 100
    # The controller's last word on each door is a close: every door ends shut, and empty
    # doors opened and shut stay as they were.
    for door in DOORS:
        events.apply(rt, DoorClosed(BANK, door, start + at()))
    assert _doors(rt) == {n: (False, state) for n, (_, state) in before.items()}


def _doors(rt: Runtime) -> dict[int, tuple[bool, str]]:
    with unit_of_work(rt.sessions) as s:
        rows = s.execute(
            select(CompartmentRow.number, CompartmentRow.door_open, CompartmentRow.state).where(
                CompartmentRow.bank_id == BANK, CompartmentRow.number.in_(DOORS)
            )
        ).all()
    return {n: (is_open, state) for n, is_open, state in rows}
