"""Day-use lockers, end to end against the reference SIP2 server."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services import dayuse
from bridge.services.access.phone import kiosk_code
from bridge.services.dayuse import DayUseLimit, DayUseOutcome
from sip2.acs.server import ReferenceACS
from tests.access.conftest import (
    ANA,
    ANA_ITEM,
    ANA_PIN,
    BEN,
    BEN_PIN,
    ERIN_BLOCKED,
    ERIN_PIN,
    access_config,
    audits,
    load_hold,
    messages,
    sim,
)
from tests.support.clock import Clock


@pytest.fixture
def access_settings(tmp_path: Path, acs: ReferenceACS) -> Settings:
    cfg = access_config(
        tmp_path,
        acs,
        dayuse={
            "compartments": {"main-lobby": [1, 2], "east-station": [4]},
            "max_hours": 3,
            "per_patron": 1,
            "reminder_minutes": 15,
        },
    )
    return load_settings(None, **cfg)


def test_a_patron_reserves_with_card_and_pin_opens_freely_and_finishes(rt: Runtime) -> None:
    got = dayuse.use(rt, "main-lobby", ANA, ANA_PIN, hours=2)

    assert got.outcome is DayUseOutcome.RESERVED, got
    assert got.compartment == 1 and sim(rt).is_open(1)
    sim(rt).put_item(1)
    sim(rt).close_door(1)

    again = dayuse.use(rt, "main-lobby", ANA, ANA_PIN)
    assert again.outcome is DayUseOutcome.OPENED and again.compartment == 1
    assert sim(rt).is_open(1)
    sim(rt).close_door(1)

    done = dayuse.finish(rt, "main-lobby", ANA, ANA_PIN)
    assert done.outcome is DayUseOutcome.FINISHED and sim(rt).is_open(1)
    assert dayuse.overview(rt) == []
    assert [a.kind for a in audits(rt, "dayuse_reserved")] == ["dayuse_reserved"]


def test_day_use_doors_are_kept_out_of_hold_loading(rt: Runtime) -> None:
    dayuse.set_aside(rt)
    door = load_hold(rt, ANA_ITEM)
    assert door not in (1, 2)


def test_a_blocked_card_cannot_reserve(rt: Runtime) -> None:
    got = dayuse.use(rt, "main-lobby", ERIN_BLOCKED, ERIN_PIN)

    assert got.outcome is DayUseOutcome.BLOCKED
    assert not sim(rt).is_open(1)
    assert audits(rt, "dayuse_refused")[0].detail["reason"] == "blocked"


def test_a_wrong_pin_reserves_nothing(rt: Runtime) -> None:
    got = dayuse.use(rt, "main-lobby", ANA, "0000")
    assert got.outcome is DayUseOutcome.DENIED and not sim(rt).is_open(1)


def test_reservations_over_the_limits_are_refused_clearly(rt: Runtime) -> None:
    too_long = dayuse.use(rt, "main-lobby", ANA, ANA_PIN, hours=5)
    assert too_long.outcome is DayUseOutcome.OVER_LIMIT
    assert too_long.limit is DayUseLimit.HOURS

    assert dayuse.use(rt, "main-lobby", ANA, ANA_PIN).outcome is DayUseOutcome.RESERVED
    second = dayuse.use(rt, "east-station", ANA, ANA_PIN)

    assert second.outcome is DayUseOutcome.OVER_LIMIT
    assert second.limit is DayUseLimit.PER_PATRON
    reasons = [a.detail["reason"] for a in audits(rt, "dayuse_refused")]
    assert reasons == ["too_long", "per_patron"]


def test_when_all_day_use_doors_are_taken_the_next_patron_is_told(rt: Runtime) -> None:
    assert dayuse.use(rt, "east-station", ANA, ANA_PIN).outcome is DayUseOutcome.RESERVED
    full = dayuse.use(rt, "east-station", BEN, BEN_PIN)
    assert full.outcome is DayUseOutcome.NONE_FREE


def test_a_reminder_goes_before_the_end_then_the_reservation_expires_for_staff(
    rt: Runtime, clock: Clock
) -> None:
    dayuse.use(rt, "main-lobby", ANA, ANA_PIN, hours=1)

    clock.advance(minutes=50)
    assert dayuse.run_dayuse(rt) == {"reminded": 1, "expired": 0}
    [note] = messages(rt, "dayuse_ending")
    assert note.patron == ANA and note.facts["doors"] == [1]
    assert dayuse.run_dayuse(rt) == {"reminded": 0, "expired": 0}  # once only

    clock.advance(minutes=15)
    assert dayuse.run_dayuse(rt)["expired"] == 1
    [line] = dayuse.overview(rt, "main-lobby")
    assert line.state == "expired" and line.compartment == 1
    again = dayuse.use(rt, "main-lobby", ANA, ANA_PIN)
    assert again.outcome is DayUseOutcome.RESERVED and again.compartment == 2  # 1 awaits staff

    assert dayuse.emptied(rt, line.id, actor="staff:ann")
    assert [v.compartment for v in dayuse.overview(rt, "main-lobby")] == [2]


@pytest.mark.browser
def test_a_patron_reserves_a_day_use_locker_from_the_phone_at_the_bank(
    rt: Runtime, live_url: str, page: Page
) -> None:
    page.goto(f"{live_url}/phone/dayuse/main-lobby")
    page.get_by_label("Library card number").fill(ANA)
    page.get_by_label("PIN").fill(ANA_PIN)
    page.get_by_label("Number on the locker screen").fill("000000")
    page.get_by_role("button", name="Reserve or open my locker").click()
    expect(page.get_by_role("alert")).to_contain_text("does not match the locker screen")
    assert not sim(rt).is_open(1)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390

    code, _ = kiosk_code(rt, "main-lobby")
    page.get_by_label("Library card number").fill(ANA)
    page.get_by_label("PIN").fill(ANA_PIN)
    page.get_by_label("Number on the locker screen").fill(code)
    page.get_by_role("button", name="Reserve or open my locker").click()

    expect(page.get_by_role("status")).to_contain_text("Door 1 is yours")
    assert sim(rt).is_open(1)


def test_staff_see_the_day_use_overview_and_mark_an_expired_door_emptied(
    rt: Runtime, clock: Clock
) -> None:
    from tests.access.test_staff_pages import signed_in_client

    dayuse.use(rt, "main-lobby", ANA, ANA_PIN, hours=1)
    clock.advance(hours=2)
    dayuse.run_dayuse(rt)
    client = signed_in_client(rt)

    page = client.get("/staff/access/dayuse").get_data(as_text=True)
    assert "Expired: empty it" in page and ANA not in page

    from tests.web.conftest import csrf_from

    [line] = dayuse.overview(rt)
    resp = client.post(
        f"/staff/access/dayuse/{line.id}/emptied", data={"csrf_token": csrf_from(page)}
    )
    assert resp.status_code == 302
    assert dayuse.overview(rt) == []
