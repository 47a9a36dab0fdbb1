"""Returns against a server whose worker drops the connection on an unknown barcode: the
deposit ends with staff as an unknown item, never checked in and never lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.config import load_settings
from bridge.services.returns.checkin import check_in_deposit
from bridge.services.returns.recording import record_deposit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.returns import DepositRow
from lockers.states import DepositState
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"


def test_an_unknown_barcode_that_makes_the_server_hang_up_goes_to_staff(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    with ReferenceACS(CATALOGUE, clock=clock, modes=Modes(drop_on_unknown_item=True)) as acs:
        ils = {"name": "main-ils", "port": acs.address[1], "institution": "DEMO",
               "timeout_seconds": 2, "timezone": "UTC"}  # fmt: skip
        rt = make_runtime(
            load_settings(None, **flow_config(tmp_path, ils=[ils])),
            sqlite_engine, redis_conn, clock, ils=None,
        )  # fmt: skip
        try:
            deposit = record_deposit(
                rt, bank_id="main-lobby", compartment=13, item_barcode="NOT-A-BARCODE",
                deposited_at=clock(),
            )  # fmt: skip
            # The check-in's reply never comes: its outcome is unknown, so it waits...
            assert check_in_deposit(rt, deposit) is DepositState.WAITING_FOR_ILS
            clock.advance(seconds=5)
            # ...and the retry asks for the item first, which the server hangs up on too.
            assert check_in_deposit(rt, deposit) is DepositState.NEEDS_STAFF
        finally:
            rt.close()
        assert acs.ledger.checkins() == []
    with unit_of_work(rt.sessions) as s:
        row = s.get(DepositRow, deposit)
        assert row is not None and row.reason == "unknown_item"
