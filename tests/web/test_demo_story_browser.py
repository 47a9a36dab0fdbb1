"""The demo's story in one browser: staff scan a hold, close its door, the patron's e-mail
lands in the demo's own mail catcher, "Messages sent (demo)" shows it with its code and QR, and
the code opens the door at the kiosk. Reuses the live server and browser of ``test_browser``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.infra.demo_mail import CatcherServer, start_catcher
from bridge.notify import delivery
from bridge.runtime import Runtime
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow
from tests.web.conftest import web_config
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    LiveServer,
    audit_page,
    browser_type_launch_args,
    csp_errors,
    kiosk_cookie,
    kiosk_timeout,
    live,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[CatcherServer]:
    server = start_catcher(tmp_path / "mail")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def web_settings(tmp_path: Path, catcher: CatcherServer) -> Settings:
    cfg = web_config(tmp_path, kiosk_timeout_seconds=120)
    cfg["demo_mailbox"] = str(catcher.folder)
    cfg["notifications"] = {
        "library_name": "Riverside Public Library (demo)",
        "email": {"enabled": True, "host": "127.0.0.1", "port": catcher.port},
    }
    return load_settings(None, **cfg)


def _send_pending(rt: Runtime) -> None:
    """What the worker does next: send the queued patron message."""
    with unit_of_work(rt.sessions) as s:
        refs = list(s.scalars(select(OutboxRow.ref).where(OutboxRow.kind == "notification")))
    assert refs
    for ref in refs:
        delivery.run(rt, "notification", ref)


def test_scan_message_and_pickup_followed_in_one_browser(
    page: Any,
    live: LiveServer,  # noqa: F811
    accounts: Any,
    rt: Runtime,
    ils: Any,
    doors: Any,
    csp_errors: list[str],  # noqa: F811
) -> None:
    ils.add_item("39000000004001", home="CENTRAL", title="The Lighthouse Keeper")
    ils.place_hold("21000001", "39000000004001", pickup_location="MAIN-LOCKER")
    sign_in(page, live, accounts[Role.STAFF])
    page.goto(f"{live.url}/staff/banks/main-lobby/load")
    page.get_by_label("Item barcode").fill("39000000004001")
    page.get_by_role("button", name="Scan").click()
    close = page.get_by_role("button", name=re.compile(r"Close door \d+ \(simulation\)"))
    door = int(re.search(r"\d+", close.inner_text()).group(0))  # type: ignore[union-attr]
    close.click()
    page.get_by_text(f"Loaded into door {door}").first.wait_for()
    _send_pending(rt)

    page.get_by_role("link", name="Messages sent (demo)").click()
    message = page.locator("#demo-messages li").first
    message.wait_for()
    text = message.inner_text()
    assert "To p@example.org" in text and "The Lighthouse Keeper" in text
    code = re.search(r"Your pickup code: (\S+)", text).group(1)  # type: ignore[union-attr]
    qr = message.get_by_role("img", name="QR code of this pickup")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    audit_page(page, live, "staff-demo-messages")

    page.goto(f"{live.url}/kiosk/main-lobby/pickup/code")
    page.get_by_label("Pickup code").fill(code)
    page.get_by_role("button", name="Open my locker").click()
    page.get_by_role("heading", name=f"Door {door} is open").wait_for()
    assert csp_errors == []

