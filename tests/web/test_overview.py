"""The consortium overview on the status page: one line per bank, paged and searchable, with a
drill-down to one bank's grid."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from bridge.config import Settings, load_settings
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow, CompartmentRow
from bridge.storage.tables.returns import DepositRow
from tests.web.conftest import csrf_from, load_for_pickup, sign_in, web_config


def _row(page: str, bank_id: str) -> list[str]:
    """The cells of one bank's overview row, as text."""
    found = re.search(rf'<tr id="bank-row-{bank_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no overview row for {bank_id}"
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)]


def test_each_bank_line_counts_what_staff_would_find_at_the_bank(client, accounts, rt, ils, doors):
    load_for_pickup(rt, ils, doors, "31000700")
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/banks/main-lobby/5").get_data(as_text=True)
    client.post("/staff/banks/main-lobby/5/service", data={"out": "1", "reason": "hinge loose", "csrf_token": csrf_from(page)})
    with unit_of_work(rt.sessions) as s:  # a full return door and a return the ILS refused
        s.execute(update(CompartmentRow).where(CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 13).values(state="return_occupied"))
        s.add(DepositRow(bank_id="main-lobby", compartment=13, item_barcode="39000009", deposited_at=datetime.now(UTC), state="needs_staff", reason="unknown_item"))
    page = client.get("/staff/").get_data(as_text=True)
    name, controller, free, loaded, returns, oos, alerts = _row(page, "main-lobby")
    assert name.startswith("Main Library lobby")
    assert controller == "online"
    assert (loaded, returns, oos) == ("1", "1", "1")
    assert alerts == "2"  # the full return door and the refused return
    # 16 doors, every one free but the three used above (empty equipment doors count as free).
    assert free == "13"
    assert _row(page, "east-station")[3:] == ["0", "0", "0", "0"]


def test_a_bank_page_shows_only_that_bank_and_unknown_banks_are_not_found(client, accounts, rt):
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/banks/east-station"' in page
    bank = client.get("/staff/banks/east-station")
    assert bank.status_code == 200
    html = bank.get_data(as_text=True)
    assert 'id="cell-east-station-4"' in html
    assert "cell-main-lobby-" not in html
    assert 'data-poll="/staff/fragments/grid/east-station"' in html
    assert client.get("/staff/banks/nowhere").status_code == 404
    assert client.get("/staff/fragments/grid/nowhere").status_code == 404


def test_signed_out_visitors_get_no_bank_page(client):
    resp = client.get("/staff/banks/east-station")
    assert resp.status_code in (302, 401)
    assert "cell-east-station" not in resp.get_data(as_text=True)


def _consortium(tmp_path: Path, banks: int) -> dict[str, Any]:
    cfg = web_config(tmp_path)
    cfg["banks"] = [
        {
            "id": f"branch-{b:03d}",
            "name": f"Branch {b:03d}",
            "branch": f"BR{b:03d}",
            "ils": "main-ils",
            "sip_login": {"user": "lockers", "password": "shared"},
            "compartment_ranges": [
                {"first": 1, "last": 3, "size": "M"},
                {"first": 4, "last": 4, "size": "M", "purpose": "return"},
            ],
        }
        for b in range(banks)
    ]
    cfg["routing"] = []
    return cfg


class TestConsortium:
    """60 banks: more than one page of the overview, and no grids inline."""

    @pytest.fixture
    def web_settings(self, tmp_path: Path) -> Settings:
        return load_settings(None, **_consortium(tmp_path, 60))

    @pytest.fixture
    def client(self, stranger: FlaskClient) -> FlaskClient:
        return stranger  # a staff browser; there is no main-lobby kiosk to enrol here

    def test_the_overview_is_paged_and_shows_no_grid(self, client, accounts):
        sign_in(client, accounts[Role.VIEWER])
        first = client.get("/staff/").get_data(as_text=True)
        assert "60 banks, page 1 of 2" in first
        assert first.count('<tr id="bank-row-') == 50
        assert 'class="grid"' not in first and "cell-branch-" not in first
        second = client.get("/staff/?page=2").get_data(as_text=True)
        rows = re.findall(r'<tr id="bank-row-([^"]+)"', second)
        assert rows == [f"branch-{b:03d}" for b in range(50, 60)]
        assert "Previous banks" in second and "Next banks" not in second
        # A page past the end shows the last page rather than nothing.
        assert re.findall(r'<tr id="bank-row-([^"]+)"', client.get("/staff/?page=9").get_data(as_text=True)) == rows
        assert client.get("/staff/?page=x").status_code == 200

    def test_search_finds_banks_by_name_id_or_branch(self, client, accounts):
        sign_in(client, accounts[Role.VIEWER])
        for query in ("Branch 042", "branch-042", "br042"):
            page = client.get("/staff/", query_string={"q": query}).get_data(as_text=True)
            assert re.findall(r'<tr id="bank-row-([^"]+)"', page) == ["branch-042"], query
        page = client.get("/staff/", query_string={"q": "%"}).get_data(as_text=True)
        assert "No bank matches" in page  # a wildcard typed by staff is matched literally
        assert client.get("/staff/", query_string={"q": "x" * 5000}).status_code == 200

    def test_the_health_panel_counts_offline_controllers_and_names_only_a_few(self, client, accounts, rt):
        with unit_of_work(rt.sessions) as s:
            s.execute(update(BankRow).where(BankRow.id < "branch-025").values(controller_online=False))
        sign_in(client, accounts[Role.VIEWER])
        health = client.get("/staff/fragments/health").get_data(as_text=True)
        assert "35 of 60 online" in health
        assert health.count("<dt>Controller Branch") == 10
        assert "15 other controllers" in health
        overview = client.get("/staff/").get_data(as_text=True)
        assert _row(overview, "branch-000")[1] == "offline"
        assert _row(overview, "branch-030")[1] == "online"

    def test_a_bank_work_list_shows_that_bank_only(self, client, accounts, rt):
        with unit_of_work(rt.sessions) as s:
            for bank in ("branch-001", "branch-002"):
                s.execute(
                    update(CompartmentRow)
                    .where(CompartmentRow.bank_id == bank, CompartmentRow.number == 4)
                    .values(state="return_occupied")
                )
        sign_in(client, accounts[Role.STAFF])
        every = client.get("/staff/work").get_data(as_text=True)
        assert "Branch 001, door 4" in every and "Branch 002, door 4" in every
        bank_page = client.get("/staff/banks/branch-001").get_data(as_text=True)
        assert 'href="/staff/work?bank=branch-001"' in bank_page
        one = client.get("/staff/work?bank=branch-001").get_data(as_text=True)
        assert "Work list: Branch 001" in one
        assert "Branch 001, door 4" in one and "Branch 002, door 4" not in one
        assert client.get("/staff/work?bank=nowhere").status_code == 404
