"""The kiosk and the API while the catalogue is down: the reference ACS (SIP2 over TCP) is
taken down, the bank lends by code, says so honestly, and refuses card + PIN in words that
point to the code; in a real browser too."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.offline import OfflineLoanRow
from tests.support.acs import use_acs
from tests.web import test_browser as shared
from tests.web.conftest import csrf_from, load_hold, web_config
from tests.web.test_browser import LiveServer, audit_page

browser_type_launch_args = shared.browser_type_launch_args
live = shared.live
kiosk_cookie = shared.kiosk_cookie
csp_errors = shared.csp_errors

ANA, CHLOE = "23000000000001", "23000000000003"
BOOK_1, BOOK_13 = "39000000000001", "39000000000013"
API_TOKEN = "kiosk-token-0123456789abcdef0123"
OFFLINE_WORDS = "your loan will be recorded as soon as it answers"


@pytest.fixture
def kiosk_timeout() -> int:
    return 120


@pytest.fixture
def web_settings(tmp_path: Path, acs: Any) -> Settings:
    cfg = use_acs(web_config(tmp_path, kiosk_timeout_seconds=120), acs)
    cfg["api"] = {"tokens": [{"name": "lobby-kiosk", "token": API_TOKEN, "role": "kiosk"}]}
    for bank in cfg["banks"]:
        bank["offline_pickup"] = "codes"
    return load_settings(None, **cfg)


def _post(client: Any, path: str, data: dict[str, str]) -> Any:
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_from(page)})


def test_the_kiosk_opens_by_code_and_says_the_loan_follows(
    client: Any, rt: Runtime, doors: dict[str, Any], acs: Any
) -> None:
    door, code = load_hold(rt, doors, BOOK_1)
    acs.go_down()

    resp = _post(client, "/kiosk/main-lobby/pickup/code", {"code": code})

    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"Door {door} is open" in html and OFFLINE_WORDS in html
    assert "Follows by message" in html  # the receipt's due date
    assert doors["main-lobby"].is_open(door)
    with unit_of_work(rt.sessions) as s:
        assert s.scalars(select(OfflineLoanRow.item_barcode)).all() == [BOOK_1]


def test_card_and_pin_are_refused_at_once_with_the_code_offered(
    client: Any, rt: Runtime, doors: dict[str, Any], acs: Any
) -> None:
    _, code = load_hold(rt, doors, BOOK_1)
    door_13, _ = load_hold(rt, doors, BOOK_13)
    acs.go_down()
    _post(client, "/kiosk/main-lobby/pickup/code", {"code": code})  # Ana's finds it down

    started = time.monotonic()
    resp = _post(client, "/kiosk/main-lobby/pickup/card", {"card": CHLOE, "pin": "3456"})
    waited = time.monotonic() - started

    html = resp.get_data(as_text=True)
    assert "card and PIN cannot be checked" in html and "pickup code" in html
    assert waited < 1.5
    assert not doors["main-lobby"].is_open(door_13)


def test_the_api_answers_opened_offline_and_card_needs_ils(
    client: Any, rt: Runtime, doors: dict[str, Any], acs: Any
) -> None:
    door, code = load_hold(rt, doors, BOOK_1)
    acs.go_down()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    by_code = client.post(
        "/api/v1/banks/main-lobby/pickup/code", json={"code": code}, headers=auth
    )
    by_card = client.post(
        "/api/v1/banks/main-lobby/pickup/card", json={"card": CHLOE, "pin": "3456"}, headers=auth
    )

    assert by_code.status_code == 200, by_code.get_json()
    assert by_code.get_json()["outcome"] == "opened_offline"
    assert door in by_code.get_json()["opened"]
    assert by_card.status_code == 503 and by_card.get_json()["outcome"] == "card_needs_ils"


@pytest.mark.browser
def test_the_offline_wording_in_a_browser(
    page: Any, live: LiveServer, rt: Runtime, doors: dict[str, Any], acs: Any,
    csp_errors: list[str],
) -> None:
    door, code = load_hold(rt, doors, BOOK_1)
    acs.go_down()
    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    page.get_by_label("Pickup code").fill(code)
    page.get_by_role("button", name="Open my locker").click()
    page.get_by_text(OFFLINE_WORDS).wait_for()
    page.get_by_role("cell", name="Follows by message").wait_for()
    audit_page(page, live, "kiosk-result-offline")
    assert doors["main-lobby"].is_open(door)
    assert csp_errors == []


def test_staff_see_the_waiting_count_and_handle_a_refused_offline_loan(
    app: Any, accounts: Any, rt: Runtime, doors: dict[str, Any], acs: Any
) -> None:
    from dataclasses import replace

    from bridge.services.offline_loans import replay_waiting, send_offline_loan
    from bridge.services.pickup import pickup_with_code
    from bridge.services.staff.accounts import Role
    from sip2.acs.catalogue import ItemStatus
    from tests.web.conftest import sign_in

    _, code = load_hold(rt, doors, BOOK_1)
    acs.go_down()
    assert pickup_with_code(rt, "main-lobby", code).outcome.value == "opened_offline"
    staff, viewer = app.test_client(), app.test_client()
    sign_in(staff, accounts[Role.STAFF])
    sign_in(viewer, accounts[Role.VIEWER])
    assert "offline loans waiting: 1" in viewer.get("/staff/fragments/health").get_data(
        as_text=True
    )
    # Meanwhile the item was lent to someone else at a desk: the ILS refuses the offline loan.
    item = acs.engine.catalogue.item(BOOK_1)
    assert item is not None
    acs.engine.catalogue.put(replace(item, status=ItemStatus.CHARGED, charged_to=CHLOE))
    acs.come_back()
    replay_waiting(rt)
    with unit_of_work(rt.sessions) as s:
        loan_id = s.scalars(select(OfflineLoanRow.id)).one()
    assert send_offline_loan(rt, loan_id) == "refused"

    assert "offline loans waiting: 0" in viewer.get("/staff/fragments/health").get_data(
        as_text=True
    )
    from bridge.alerts.check import check_alerts

    assert check_alerts(rt).raised == 1
    seen_by_viewer = viewer.get("/staff/work").get_data(as_text=True)
    assert "Offline loans the ILS refused (1)" in seen_by_viewer and ANA not in seen_by_viewer
    page = staff.get("/staff/work").get_data(as_text=True)
    assert ANA in page and BOOK_1 in page and "another patron" in page
    assert "The ILS refused 1 offline loan made while it was down" in page
    after = staff.post(
        f"/staff/offline-loans/{loan_id}/resolve",
        data={"csrf_token": csrf_from(page), "note": "phoned the patron"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"Offline loan {loan_id} is marked as handled" in after
    assert "Offline loans the ILS refused (0)" in after
    with unit_of_work(rt.sessions) as s:
        row = s.get(OfflineLoanRow, loan_id)
        assert row is not None and row.patron is None and row.resolved_by
