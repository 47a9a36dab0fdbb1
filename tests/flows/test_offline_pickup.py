"""Pickups while the catalogue is down (store and forward), over real TCP to the reference ACS.

The ACS is taken down (its listener closed, as in an outage); patrons collect by typed code
and QR; the loans are kept here and sent when it answers again, each once, with no-block and
the pickup time as the transaction date, before any later return of the same item.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services import offline_loans
from bridge.services.loading import scan_item
from bridge.services.pickup import (
    PickupOutcome,
    pickup_with_card,
    pickup_with_code,
    pickup_with_qr,
)
from bridge.services.returns import checkin, recording
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.offline import OfflineLoanRow
from bridge.web.staff import queries
from sip2.acs.catalogue import ItemStatus
from sip2.acs.server import ReferenceACS
from tests.flows.conftest import load_door, messages, sim
from tests.support.acs import use_acs
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.db import both_databases
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"
ANA = "23000000000001"
CHLOE = "23000000000003"
BOOK_1, BOOK_13 = "39000000000001", "39000000000013"


@pytest.fixture
def acs(clock: Clock) -> Iterator[ReferenceACS]:
    with ReferenceACS(CATALOGUE, behaviour="koha", clock=clock) as server:
        yield server


def _runtime(
    tmp_path: Path,
    acs: ReferenceACS,
    engine: Any,
    redis: Any,
    clock: Clock,
    notifications: dict[str, Any] | None = None,
    **bank: Any,
) -> Runtime:
    cfg = use_acs(flow_config(tmp_path), acs)
    for b in cfg["banks"]:
        b.update(bank)
    if notifications:
        cfg["notifications"] = notifications
    return make_runtime(load_settings(None, **cfg), engine, redis, clock, ils=None)


@pytest.fixture
def offline_rt(
    tmp_path: Path, acs: ReferenceACS, db_engine: Any, redis_conn: Any, clock: Clock
) -> Iterator[Runtime]:
    rt = _runtime(tmp_path, acs, db_engine, redis_conn, clock, offline_pickup="codes")
    yield rt
    rt.close()


def _load(rt: Runtime, item: str) -> tuple[int, str, str]:
    """Loads a hold; returns its door, typed code and QR token."""
    scanned = scan_item(rt, "main-lobby", item, "staff")
    assert scanned.compartment is not None, scanned
    load_door(rt, scanned.compartment)
    note = messages(rt)[-1]
    return scanned.compartment, note.secrets["code"], note.secrets["qr_token"]


def _loans(rt: Runtime) -> list[OfflineLoanRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(OfflineLoanRow).order_by(OfflineLoanRow.id)))
        s.expunge_all()
        return rows


def _send_all(rt: Runtime) -> list[str | None]:
    offline_loans.replay_waiting(rt)
    return [offline_loans.send_offline_loan(rt, row.id) for row in _loans(rt)]


@both_databases
def test_a_code_opens_the_door_while_the_ils_is_down_and_the_loan_is_sent_later(
    offline_rt: Runtime, acs: ReferenceACS, clock: Clock
) -> None:
    door, code, _ = _load(offline_rt, BOOK_1)
    acs.go_down()
    clock.advance(minutes=5)
    picked_at = clock()

    started = time.monotonic()
    result = pickup_with_code(offline_rt, "main-lobby", code)
    first_wait = time.monotonic() - started

    assert result.outcome is PickupOutcome.OPENED_OFFLINE, result
    assert result.opened == (door,) and sim(offline_rt).is_open(door)
    assert [ln.offline for ln in result.loans] == [True]
    assert first_wait < 5, f"the first patron waited {first_wait:.1f} s"
    [loan] = _loans(offline_rt)
    assert (loan.state, loan.patron, loan.item_barcode) == ("waiting", ANA, BOOK_1)
    assert acs.ledger.checkouts(BOOK_1) == []

    acs.come_back()
    clock.advance(minutes=30)
    assert _send_all(offline_rt) == ["recorded"]

    [sent] = acs.ledger.checkouts(BOOK_1)
    assert sent.patron == ANA and sent.no_block
    assert sent.transaction_date == picked_at
    [loan] = _loans(offline_rt)
    assert loan.state == "recorded" and loan.patron is None and loan.due is not None
    [note] = messages(offline_rt, "picked_up")
    assert note.facts["recorded_later"] and note.facts["loans"][0]["due"]
    # Sent once: a second run finds nothing to do.
    assert _send_all(offline_rt) == [None]
    assert len(acs.ledger.checkouts(BOOK_1)) == 1


def test_once_known_down_the_next_patron_does_not_wait_and_card_and_pin_offer_the_code(
    offline_rt: Runtime, acs: ReferenceACS
) -> None:
    _, code_1, _ = _load(offline_rt, BOOK_1)
    _, _, qr_13 = _load(offline_rt, BOOK_13)
    acs.go_down()
    pickup_with_code(offline_rt, "main-lobby", code_1)

    started = time.monotonic()
    by_qr = pickup_with_qr(offline_rt, "main-lobby", qr_13)
    by_card = pickup_with_card(offline_rt, "main-lobby", CHLOE, "3456")
    waited = time.monotonic() - started

    assert by_qr.outcome is PickupOutcome.OPENED_OFFLINE
    assert by_card.outcome is PickupOutcome.CARD_NEEDS_ILS
    assert waited < 1.0, f"patrons of a known-down ILS waited {waited:.2f} s"
    assert [r.via for r in _loans(offline_rt)] == ["code", "qr"]


def test_a_bank_with_the_policy_off_refuses_at_once(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    rt = _runtime(tmp_path, acs, sqlite_engine, redis_conn, clock)
    door, code, _ = _load(rt, BOOK_1)
    acs.go_down()

    result = pickup_with_code(rt, "main-lobby", code)

    assert result.outcome is PickupOutcome.ILS_UNAVAILABLE
    assert not sim(rt).is_open(door) and _loans(rt) == []
    rt.close()


def test_more_items_than_the_cap_stay_in_the_locker(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    rt = _runtime(
        tmp_path,
        acs,
        sqlite_engine,
        redis_conn,
        clock,
        offline_pickup="codes",
        offline_max_items=1,
    )
    _load(rt, BOOK_1)
    cat = acs.engine.catalogue
    cat.put(_hold_like(acs, "H3", BOOK_13, ANA))
    del cat.holds["H3"]  # Chloé's: now Ana has both items in the locker
    door, code, _ = _load(rt, BOOK_13)
    acs.go_down()

    result = pickup_with_code(rt, "main-lobby", code)

    assert result.outcome is PickupOutcome.ILS_UNAVAILABLE
    assert _loans(rt) == [] and not sim(rt).is_open(door)
    rt.close()


def _hold_like(acs: ReferenceACS, template: str, item: str, patron: str) -> Any:
    from dataclasses import replace

    hold = acs.engine.catalogue.holds[template]
    return replace(hold, id=f"X{item}", item=item, patron=patron)


def test_the_ils_refusing_afterwards_puts_the_loan_on_the_work_list(
    offline_rt: Runtime, acs: ReferenceACS
) -> None:
    _, code, _ = _load(offline_rt, BOOK_1)
    acs.go_down()
    assert pickup_with_code(offline_rt, "main-lobby", code).outcome is (
        PickupOutcome.OPENED_OFFLINE
    )
    # Meanwhile a desk lent the same item to someone else: no-block cannot override that.
    cat = acs.engine.catalogue
    from dataclasses import replace

    item = cat.item(BOOK_1)
    assert item is not None
    cat.put(replace(item, status=ItemStatus.CHARGED, charged_to=CHLOE))
    acs.come_back()

    assert _send_all(offline_rt) == ["refused"]

    work = queries.work_lists(offline_rt, Role.STAFF)
    [refused] = work.refused_offline
    assert (refused.item, refused.patron) == (BOOK_1, ANA)
    assert "another patron" in refused.reason
    assert work.total >= 1
    offline_loans.resolve_refused(offline_rt, refused.loan_id, "staff:ann", "phoned")
    assert queries.work_lists(offline_rt, Role.STAFF).refused_offline == ()


@both_databases
def test_a_later_return_of_the_item_waits_for_its_offline_loan(
    offline_rt: Runtime, acs: ReferenceACS, clock: Clock
) -> None:
    _, code, _ = _load(offline_rt, BOOK_1)
    acs.go_down()
    pickup_with_code(offline_rt, "main-lobby", code)
    clock.advance(minutes=10)
    deposit = recording.record_deposit(
        offline_rt,
        bank_id="main-lobby",
        compartment=13,
        item_barcode=BOOK_1,
        deposited_at=clock(),
    )
    acs.come_back()
    clock.advance(minutes=1)

    # The check-in is not even tried while the loan is unsent.
    assert checkin.check_in_deposit(offline_rt, deposit) is None
    assert acs.ledger.checkins(BOOK_1) == [] or all(
        e.at < clock() - timedelta(minutes=5) for e in acs.ledger.checkins(BOOK_1)
    )
    assert _send_all(offline_rt) == ["recorded"]
    clock.advance(seconds=5)
    assert checkin.check_in_deposit(offline_rt, deposit) is not None

    kinds = [e.action.value for e in acs.ledger.entries(item=BOOK_1)]
    assert kinds[-2:] == ["checkout", "checkin"]
    assert acs.ledger.checkins(BOOK_1)[-1].loan_closed


def test_health_counts_offline_loans_waiting(offline_rt: Runtime, acs: ReferenceACS) -> None:
    _, code, _ = _load(offline_rt, BOOK_1)
    acs.go_down()
    pickup_with_code(offline_rt, "main-lobby", code)

    with unit_of_work(offline_rt.sessions) as s:
        assert queries.health(offline_rt, s).offline_loans_waiting == 1
    acs.come_back()
    _send_all(offline_rt)
    with unit_of_work(offline_rt.sessions) as s:
        assert queries.health(offline_rt, s).offline_loans_waiting == 0


def test_the_receipt_says_the_due_date_follows_and_the_message_brings_it(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    rt = _runtime(
        tmp_path,
        acs,
        sqlite_engine,
        redis_conn,
        clock,
        notifications={"send_pickup_receipt": True},
        offline_pickup="codes",
    )
    _, code, _ = _load(rt, BOOK_1)
    acs.go_down()
    pickup_with_code(rt, "main-lobby", code)

    [receipt] = messages(rt, "picked_up")
    assert receipt.facts["due_follows"] is True
    assert receipt.facts["loans"][0]["due"] is None

    acs.come_back()
    _send_all(rt)
    receipt, confirmed = messages(rt, "picked_up")
    assert confirmed.facts["recorded_later"] is True and confirmed.facts["due"]
    rt.close()


def test_after_offline_max_hours_the_items_stay_in_the_locker(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    rt = _runtime(
        tmp_path, acs, sqlite_engine, redis_conn, clock, offline_pickup="codes", offline_max_hours=2
    )
    _, code_1, _ = _load(rt, BOOK_1)
    door_13, code_13, _ = _load(rt, BOOK_13)
    acs.go_down()
    assert pickup_with_code(rt, "main-lobby", code_1).outcome is PickupOutcome.OPENED_OFFLINE

    clock.advance(hours=3)  # the outage began at the first pickup
    result = pickup_with_code(rt, "main-lobby", code_13)

    assert result.outcome is PickupOutcome.ILS_UNAVAILABLE
    assert not sim(rt).is_open(door_13) and len(_loans(rt)) == 1
    rt.close()
