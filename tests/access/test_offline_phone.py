"""The phone link while the catalogue is down: with ``codes_and_links`` it opens the door and
says the loan is recorded later (in a real browser); with ``codes`` it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.access import phone
from bridge.services.offline_loans import waiting_count
from bridge.storage.db import unit_of_work
from sip2.acs.server import ReferenceACS
from tests.access.conftest import ANA_ITEM, access_config, load_hold, phone_link, sim


@pytest.fixture
def policy() -> str:
    return "codes_and_links"


@pytest.fixture
def access_settings(tmp_path: Path, acs: ReferenceACS, policy: str) -> Settings:
    cfg: dict[str, Any] = access_config(tmp_path, acs)
    for bank in cfg["banks"]:
        bank["offline_pickup"] = policy
    return load_settings(None, **cfg)


@pytest.mark.browser
def test_the_phone_link_opens_the_door_and_says_the_loan_follows(
    rt: Runtime, acs: ReferenceACS, live_url: str, page: Page
) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    acs.go_down()

    page.goto(f"{live_url}/phone/{token}")
    code, _ = phone.kiosk_code(rt, "main-lobby")
    page.get_by_label("Number on the locker screen").fill(code)
    page.get_by_role("button", name="Open my locker").click()

    expect(page.get_by_role("status")).to_contain_text(f"Door {door} is open")
    expect(page.get_by_role("status")).to_contain_text("recorded as soon as it answers")
    assert sim(rt).is_open(door)
    with unit_of_work(rt.sessions) as s:
        assert waiting_count(s) == 1


@pytest.mark.parametrize("policy", ["codes"])
def test_with_codes_only_the_phone_link_waits_for_the_catalogue(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    acs.go_down()

    result = phone.open_from_phone(rt, token, phone.kiosk_code(rt, "main-lobby")[0])

    assert result.outcome is phone.PhoneOutcome.PICKUP_REFUSED
    assert not sim(rt).is_open(door)
    with unit_of_work(rt.sessions) as s:
        assert waiting_count(s) == 0
