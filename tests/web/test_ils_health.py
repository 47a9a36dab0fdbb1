"""The staff page's health panel says "up" for a catalogue that answers, with its status
flags beside it as warnings (real servers send N for policy reasons while circulating)."""

from __future__ import annotations

from typing import Any

from bridge.services.health import probe_ils
from bridge.services.staff.accounts import Role
from tests.web.conftest import sign_in


def test_a_catalogue_whose_status_says_n_n_is_up_with_warnings_on_the_staff_page(
    client: Any, accounts: Any, rt: Any, acs: Any
) -> None:
    from sip2.acs.modes import Modes

    acs.modes = Modes(status_says_no=True)
    probe_ils(rt)
    sign_in(client, accounts[Role.STAFF])

    panel = client.get("/staff/fragments/health", headers={"X-Lockerbridge-Poll": "1"})

    text = panel.get_data(as_text=True)
    assert panel.status_code == 200
    assert "ILS main-ils" in text and "up" in text and "down" not in text
    assert "warning: the ILS&#39;s status reply says check-in is not allowed" in text
    assert "checkout is not allowed (98 checkout ok N)" in text
