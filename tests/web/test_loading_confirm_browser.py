"""The loading screen's "check it in anyway?" in a real browser against the reference ACS (SIP2
over TCP), with axe-core. Reuses the live server and browser of ``test_browser``."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.services.staff.accounts import Role
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    LiveServer,
    audit_page,
    browser_type_launch_args,
    csp_errors,
    kiosk_cookie,
    kiosk_timeout,
    live,
    sign_in,
    web_settings,
)

pytestmark = pytest.mark.browser


def test_a_stray_shelf_item_is_checked_in_only_after_the_confirm_button(
    page: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    acs: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    sign_in(page, live, accounts[Role.STAFF])
    page.goto(f"{live.url}/staff/banks/main-lobby/load")
    page.get_by_label("Item barcode").fill("39000000000002")  # Middlemarch: nobody holds it
    page.get_by_label("Item barcode").press("Enter")
    page.get_by_role(
        "heading", name="No hold waits here for this item — check it in anyway?"
    ).wait_for()
    assert acs.ledger.checkins("39000000000002") == []
    audit_page(page, live, "staff-load-confirm")

    page.get_by_role("button", name="Check 39000000000002 in here anyway").click()
    # Checked in now; the catalogue sends its home copy back home (Koha makes the transfer).
    page.get_by_role("heading", name="Not for this bank: send to MAIN").wait_for()
    [checkin] = acs.ledger.checkins("39000000000002")
    assert checkin.location == "MAIN-LOCKER"
    assert page.get_by_role("button", name="Check 39000000000002 in here anyway").count() == 0

    # An item a hold waits for here opens a door at once.
    page.get_by_label("Item barcode").fill("39000000000001")
    page.get_by_label("Item barcode").press("Enter")
    page.get_by_role("heading", name="is open — put the item in and close the door").wait_for()
    assert csp_errors == []
