"""The pickup flows end to end over real TCP: our SIP2 adapter against the reference ACS
(Koha and Evergreen behaviours) with the sample catalogue, the simulated bank driver and a
real database.

Each flow also runs against the ACS's modes (``sip2.acs.modes``) that imitate what real
servers do: a local time zone with blank-zone dates, Evergreen's non-SIP due dates, a status
reply saying N/N while serving, a single worker (one session at a time), and a worker that
drops the connection on an unknown barcode. The configuration tells ours what a site's would
(time zone; one connection for a one-worker server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.loading import ScanOutcome, scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_card, pickup_with_code
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import TransitRow
from sip2.acs.modes import preset
from sip2.acs.server import ReferenceACS
from tests.flows.conftest import load_door, messages, sim, state_of
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"
ANA, BEN, CHLOE, ERIN = (f"2300000000000{n}" for n in (1, 2, 3, 5))


def item(n: int) -> str:
    return f"390000000000{n:02d}"


# (behaviour, mode): every behaviour plainly, each mode once.
SERVERS = [
    ("koha", "plain"),
    ("evergreen", "plain"),
    ("koha", "local-zone"),
    ("evergreen", "iso-dates"),
    ("koha", "status-says-no"),
    ("koha", "one-worker"),
    ("evergreen", "drops-unknown"),
]


@pytest.fixture(params=SERVERS, ids=[f"{b}-{m}" for b, m in SERVERS])
def acs(request: pytest.FixtureRequest, clock: Clock) -> Iterator[ReferenceACS]:
    behaviour, mode = request.param
    with ReferenceACS(CATALOGUE, behaviour=behaviour, clock=clock, modes=preset(mode)) as server:
        yield server


@pytest.fixture
def real_rt(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> Iterator[Runtime]:
    host, port = acs.address
    profile = acs.engine.behaviour.name
    cfg = flow_config(
        tmp_path,
        ils=[
            {
                "name": "main-ils",
                "profile": profile if profile in ("koha", "evergreen") else "koha",
                "host": host,
                "port": port,
                "institution": "DEMO",
                "timeout_seconds": 3,
                "timezone": str(acs.modes.zone),
                "max_connections": acs.modes.workers or 2,
            }
        ],
    )
    rt = make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, clock, ils=None)
    yield rt
    rt.close()


def test_a_hold_loads_and_the_patron_collects_it_with_card_and_pin(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    scanned = scan_item(real_rt, "main-lobby", item(1), "staff")
    assert scanned.outcome is ScanOutcome.DOOR_OPEN, scanned
    [checkin] = acs.ledger.checkins(item(1))
    assert checkin.location == "MAIN-LOCKER" and checkin.alert == "01"
    load_door(real_rt, scanned.compartment or 0)
    [note] = messages(real_rt)
    assert note.facts["titles"] == ["The Left Hand of Darkness"]

    picked = pickup_with_card(real_rt, "main-lobby", ANA, "1234", kiosk="k1")

    assert picked.outcome is PickupOutcome.OPENED, picked
    [loan] = acs.ledger.checkouts(item(1))
    assert loan.patron == ANA and loan.ok
    assert sim(real_rt).is_open(scanned.compartment or 0)


def test_the_typed_code_collects_over_sip2(real_rt: Runtime, acs: ReferenceACS) -> None:
    scanned = scan_item(real_rt, "main-lobby", item(1), "staff")
    load_door(real_rt, scanned.compartment or 0)
    code = messages(real_rt)[0].secrets["code"]

    picked = pickup_with_code(real_rt, "main-lobby", code)

    assert picked.opened == (scanned.compartment,)
    assert acs.ledger.checkouts(item(1))[0].patron == ANA


def test_an_item_for_another_bank_is_routed_then_loads_there(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    # Chloé's hold H3 waits at MAIN-LOCKER for an EAST book scanned at the east bank.
    away = scan_item(real_rt, "east-station", item(13), "staff")

    assert away.outcome is ScanOutcome.SEND_ELSEWHERE, away
    assert away.destination == "MAIN-LOCKER" and away.destination_bank == "main-lobby"
    with unit_of_work(real_rt.sessions) as s:
        assert s.scalars(select(TransitRow.bank_id)).all() == ["main-lobby"]

    here = scan_item(real_rt, "main-lobby", item(13), "courier")

    assert here.outcome is ScanOutcome.DOOR_OPEN, here


def test_loading_a_second_item_never_checks_the_first_in_again(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    first = scan_item(real_rt, "main-lobby", item(1), "staff")
    load_door(real_rt, first.compartment or 0)
    again = scan_item(real_rt, "main-lobby", item(1), "staff")
    other = scan_item(real_rt, "main-lobby", item(13), "staff")

    assert again.outcome is ScanOutcome.ALREADY_LOADED
    assert other.compartment != first.compartment
    assert len(acs.ledger.checkins(item(1))) == 1
    assert state_of(real_rt, first.compartment or 0) == "loaded"


def test_bad_scans_are_refused_with_reasons(real_rt: Runtime, acs: ReferenceACS) -> None:
    unknown = scan_item(real_rt, "main-lobby", "39999999999999", "staff")
    on_loan = scan_item(real_rt, "main-lobby", item(3), "staff")  # charged to Ben

    assert unknown.outcome is ScanOutcome.UNKNOWN_ITEM
    assert on_loan.outcome is ScanOutcome.CHECKED_OUT
    assert acs.ledger.checkins(item(3)) == []


def test_a_wrong_pin_and_a_blocked_card_open_nothing(real_rt: Runtime, acs: ReferenceACS) -> None:
    scanned = scan_item(real_rt, "main-lobby", item(1), "staff")
    load_door(real_rt, scanned.compartment or 0)

    wrong = pickup_with_card(real_rt, "main-lobby", ANA, "9999")
    blocked = pickup_with_card(real_rt, "main-lobby", ERIN, "5678")

    assert wrong.outcome is PickupOutcome.DENIED
    assert blocked.outcome is PickupOutcome.BLOCKED
    assert acs.ledger.checkouts() == []
    assert state_of(real_rt, scanned.compartment or 0) == "loaded"


def test_the_ils_going_down_leaves_the_items_in_their_doors(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    scanned = scan_item(real_rt, "main-lobby", item(1), "staff")
    load_door(real_rt, scanned.compartment or 0)
    code = messages(real_rt)[0].secrets["code"]
    acs.go_down()

    down = pickup_with_code(real_rt, "main-lobby", code)

    assert down.outcome is PickupOutcome.ILS_UNAVAILABLE
    assert state_of(real_rt, scanned.compartment or 0) == "loaded"
    assert not sim(real_rt).is_open(scanned.compartment or 0)


def test_sip2_round_trips_and_door_events_show_up_in_the_metrics(real_rt: Runtime) -> None:
    from prometheus_client import REGISTRY

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    checkins = (
        "lockerbridge_sip2_request_seconds_count",
        {"message": "checkin", "ils": "main-ils"},
    )
    closes = ("lockerbridge_door_events_total", {"bank": "main-lobby", "event": "DoorClosed"})
    before_checkins, before_closes = (
        count(checkins[0], **checkins[1]),
        count(closes[0], **closes[1]),
    )

    result = scan_item(real_rt, "main-lobby", item(1), "staff:ann")
    assert result.outcome is ScanOutcome.DOOR_OPEN
    load_door(real_rt, result.compartment or 0)

    # Operators read ILS latency and door traffic from /metrics: both move with real work.
    assert count(checkins[0], **checkins[1]) == before_checkins + 1
    assert count(closes[0], **closes[1]) == before_closes + 1
