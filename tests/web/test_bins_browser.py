"""Return doors as bins and what the grid shows inside each door, in a real browser with
axe-core. Reuses the live server and browser of ``test_browser``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.returns.checkin import check_in_deposit
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.returns import DepositRow
from tests.web.conftest import load_for_pickup, web_config
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    LiveServer,
    audit_page,
    browser_type_launch_args,
    csp_errors,
    kiosk_cookie,
    kiosk_timeout,
    live,
    return_at_kiosk,
    sign_in,
)

pytestmark = pytest.mark.browser

BIN = 3  # returns each return door of the main lobby takes


@pytest.fixture
def web_settings(tmp_path: Path, kiosk_timeout: int) -> Settings:  # noqa: F811
    cfg = web_config(tmp_path, kiosk_timeout_seconds=kiosk_timeout)
    main = cfg["banks"][0]
    assert main["id"] == "main-lobby"
    for r in main["compartment_ranges"]:
        if r.get("purpose") == "return":
            r["capacity"] = BIN
    return load_settings(None, **cfg)


def _door_row(rt: Runtime, number: int) -> tuple[str, int]:
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(
            select(CompartmentRow).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == number
            )
        ).one()
        return row.state, row.deposits


def test_a_bin_takes_several_returns_then_staff_scan_them_out_and_it_takes_returns_again(
    page: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    rt: Runtime,
    ils: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    items = [f"3900000000410{n}" for n in range(BIN + 1)]
    for n, item in enumerate(items):
        ils.add_item(item, home="MAIN-LOCKER", title=f"Returned book {n}")
        ils.lend("21000001", item)

    # Three patrons return a book each: the kiosk offers the same door until it is full.
    used = [return_at_kiosk(page, live, doors, item) for item in items[:BIN]]
    assert len(set(used)) == 1, used
    door = used[0]
    assert _door_row(rt, door) == ("return_occupied", BIN)
    # The next return goes to the next door.
    other = return_at_kiosk(page, live, doors, items[BIN])
    assert other != door
    with unit_of_work(rt.sessions) as s:
        deposits = list(s.scalars(select(DepositRow.id).order_by(DepositRow.id)))
    for deposit in deposits:
        check_in_deposit(rt, deposit)  # what the worker does next

    sign_in(page, live, accounts[Role.STAFF])
    cell = page.locator(f'#grid-main-lobby li[data-number="{door}"]')
    assert f"{BIN} of {BIN} returns" in cell.inner_text()
    page.goto(f"{live.url}/staff/work")
    row = page.get_by_role("row").filter(has_text=f"Main Library lobby, door {door}")
    assert f"{BIN} of {BIN} returns" in row.inner_text()
    page.get_by_role("link", name=f"Empty door {door} by scanning").click()
    for n, item in enumerate(items[:BIN]):
        page.get_by_label("Item taken out").fill(item)
        page.get_by_role("button", name="Scan").click()
        page.get_by_text("Checked in, no hold: shelve it here.").first.wait_for()
        if n < BIN - 1:
            # Not empty yet: the door still holds returns and takes none until emptied.
            assert _door_row(rt, door) == ("return_occupied", BIN)
            assert page.get_by_text("takes returns again").count() == 0
    page.get_by_text(f"Every return is out: door {door} takes returns again.").wait_for()
    audit_page(page, live, "staff-empty-bin")
    assert _door_row(rt, door) == ("return_free", 0)
    page.goto(f"{live.url}/staff/")
    assert f"0 of {BIN} returns" in cell.inner_text()
    # The part-full door comes first: one bin fills before the emptied one starts again.
    ils.add_item("39000000004199", home="MAIN-LOCKER", title="One more")
    ils.lend("21000001", "39000000004199")
    assert return_at_kiosk(page, live, doors, "39000000004199") == other
    assert csp_errors == []


def test_door_cells_name_what_is_inside_and_hide_the_patron_from_viewers(
    page: Any,
    browser: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    rt: Runtime,
    ils: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "39000000004201", title="Night Trains of Europe")
    sign_in(page, live, accounts[Role.STAFF])
    cell = page.locator(f'#grid-main-lobby li[data-number="{loaded.compartment}"]')
    text = cell.inner_text()
    assert "Night Trains of Europe · 39000000004201" in text
    assert "•••• 0001" in text
    audit_page(page, live, "staff-grid-titles")

    viewer = browser.new_context().new_page()
    sign_in(viewer, live, accounts[Role.VIEWER])
    seen = viewer.locator(f'#grid-main-lobby li[data-number="{loaded.compartment}"]').inner_text()
    assert "Night Trains of Europe · 39000000004201" in seen
    assert "0001" not in seen.replace("39000000004201", "")
    assert csp_errors == []
