"""What the circulation desk sees every day, in a real browser with axe-core: alerts on the
work list (also at 200 % zoom). Reuses the live server and browser of ``test_browser``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bridge.alerts.check import check_alerts
from bridge.runtime import Runtime
from bridge.services.loading import scan_item
from bridge.services.staff.accounts import Role
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
    web_settings,
)

pytestmark = pytest.mark.browser


def test_alerts_on_the_work_list_urgent_first_and_readable_at_200_percent(
    page: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    rt: Runtime,
    ils: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    # A hold is scanned and its door left open; the east bank's controller stops answering.
    ils.add_item("39000000000601", home="CENTRAL", title="Rivers of the North")
    ils.place_hold("21000001", "39000000000601", pickup_location="MAIN-LOCKER")
    door = scan_item(rt, "main-lobby", "39000000000601", "staff:loader").compartment
    assert door is not None
    from lockers.drivers.simulated import SimFault

    doors["east-station"].set_fault(SimFault.OFFLINE)
    ils.add_item("39000000000602", home="CENTRAL", title="Quiet Harbours")
    ils.place_hold("21000001", "39000000000602", pickup_location="EAST-LOCKER")
    scan_item(rt, "east-station", "39000000000602", "staff:loader")
    real = rt.clock
    rt.clock = lambda: real() + timedelta(minutes=5)
    try:
        assert check_alerts(rt).raised == 2
    finally:
        rt.clock = real

    # A return waiting for staff puts a table on the list too (it must fit as well).
    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.returns import DepositRow

    with unit_of_work(rt.sessions) as s:
        s.add(
            DepositRow(
                bank_id="main-lobby", compartment=9, item_barcode="39000000000699",
                deposited_at=rt.clock(), state="needs_staff", reason="hold_here",
                suggestion="load_for_pickup", outcome="hold_here",
            )
        )
    # 200 % zoom of a 1280 px wide window: the page lays out in 640 CSS pixels.
    page.set_viewport_size({"width": 640, "height": 900})
    sign_in(page, live, accounts[Role.VIEWER])
    page.goto(f"{live.url}/staff/work")
    alerts = page.locator("#alerts li")
    assert alerts.count() == 2
    assert alerts.nth(0).inner_text().startswith("Urgent:")
    assert "East station" in alerts.nth(0).inner_text()
    needs = page.locator("#needs-h + div table").inner_text()
    assert "Main Library lobby, door 9" in needs and "load_for_pickup" not in needs
    assert f"Door {door} at Main Library lobby has been open" in alerts.nth(1).inner_text()
    page.get_by_role("link", name=f"Main Library lobby, door {door}").click()
    page.wait_for_url(f"**/staff/banks/main-lobby/{door}")
    page.goto(f"{live.url}/staff/work")
    audit_page(page, live, "staff-work-alerts")
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 640, f"the work list needs {wide} px: it scrolls sideways at 200 % zoom"
    assert csp_errors == []


def test_search_for_a_hold_then_the_door_shows_what_is_inside(
    page: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    rt: Runtime,
    ils: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    from tests.web.conftest import load_for_pickup

    ils.add_patron("21000009", "9999", name="Dana Whitfield")
    loaded = load_for_pickup(
        rt, ils, doors, "39000000000909", patron="21000009", title="Night Trains of Europe"
    )
    sign_in(page, live, accounts[Role.STAFF])
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Item barcode, title, patron card or name").fill("whitfield")
    page.get_by_role("button", name="Search").click()
    result = page.locator(".results li")
    assert result.count() == 1
    text = result.inner_text()
    assert "Night Trains of Europe" in text and "Dana Whitfield (•••• 0009)" in text
    audit_page(page, live, "staff-search")
    page.get_by_role("link", name=f"Main Library lobby, door {loaded.compartment}").click()
    inside = page.locator("#inside-h + ul")
    inside.wait_for()
    assert "item 39000000000909" in inside.inner_text()
    assert "Waiting for pickup since" in inside.inner_text()
    audit_page(page, live, "staff-door-inside")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="Day by day").wait_for()
    audit_page(page, live, "staff-reports")
    page.goto(f"{live.url}/staff/no-such-page")
    page.get_by_role("heading", name="Page not found").wait_for()
    audit_page(page, live, "staff-not-found")
    assert csp_errors == []


def test_emptying_a_return_door_by_scanning_shows_each_next_step_and_frees_the_door(
    page: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    rt: Runtime,
    ils: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:

    from sqlalchemy import select

    from bridge.services.returns.checkin import check_in_deposit
    from bridge.services.returns.worklist import returns_overview
    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.core import CompartmentRow
    from bridge.storage.tables.returns import DepositRow

    # A patron returns a book at the kiosk that another patron waits for at the east bank.
    ils.add_item("39000000003001", home="CENTRAL", title="Paper Boats")
    ils.lend("21000001", "39000000003001")
    ils.add_patron("21000004", "4444")
    ils.place_hold("21000004", "39000000003001", pickup_location="EAST-LOCKER")
    door = return_at_kiosk(page, live, doors, "39000000003001")
    with unit_of_work(rt.sessions) as s:
        deposit = s.scalars(select(DepositRow.id)).one()
    check_in_deposit(rt, deposit)  # what the worker does next
    assert len(returns_overview(rt).needs_staff) == 1

    sign_in(page, live, accounts[Role.STAFF])
    page.goto(f"{live.url}/staff/work")
    page.get_by_role("link", name=f"Empty door {door} by scanning").click()
    page.get_by_label("Item taken out").fill("39000000000000")  # not in this door
    page.get_by_role("button", name="Scan").click()
    page.get_by_text("is not among the returns of door").wait_for()
    page.get_by_label("Item taken out").fill("39000000003001")
    page.get_by_role("button", name="Scan").click()
    slip = page.locator("#transit-slip")
    slip.wait_for()
    assert "Send to: East station (EAST-LOCKER)" in slip.inner_text()
    page.get_by_text(f"Every return is out: door {door} takes returns again.").wait_for()
    audit_page(page, live, "staff-empty-return")
    # Recorded by the scan: the door is free again and nothing is left to type on the work list.
    with unit_of_work(rt.sessions) as s:
        state = s.scalars(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == door
            )
        ).one()
    assert state == "return_free"
    assert returns_overview(rt).needs_staff == ()
    assert csp_errors == []


def test_an_admin_disables_an_account_on_the_accounts_page_and_its_session_ends(
    page: Any,
    browser: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    # The staff member is signed in in another browser.
    other = browser.new_context()
    colleague = other.new_page()
    sign_in(colleague, live, accounts[Role.STAFF])

    sign_in(page, live, accounts[Role.ADMIN])
    page.goto(f"{live.url}/staff/accounts")
    audit_page(page, live, "staff-accounts")
    name = accounts[Role.STAFF].username
    page.get_by_role("button", name=f"Disable {name}").click()
    page.get_by_role("button", name=f"Enable {name}").wait_for()

    # The colleague's status page polls; its next request finds the session gone and the page
    # goes to the sign-in form by itself.
    colleague.wait_for_url("**/staff/login**")
    other.close()
    assert csp_errors == []
