"""A catalogue in another time zone: the return date of a deposit goes out as the catalogue's
local wall-clock time, read from the reference ACS's ledger (the field as sent)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge.config import load_settings
from bridge.services.returns.checkin import check_in_deposit
from bridge.services.returns.recording import record_deposit
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
DUNE = "39000000000003"  # on loan in the sample catalogue


def test_a_deposit_at_2330_in_los_angeles_is_checked_in_with_that_local_time(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    deposited = datetime(2026, 3, 7, 23, 30, tzinfo=LOS_ANGELES)  # 07:30 UTC the next day
    clock.now = deposited + timedelta(minutes=1)
    with ReferenceACS(CATALOGUE, clock=clock, modes=Modes(zone=LOS_ANGELES)) as acs:
        ils = {
            "name": "main-ils",
            "port": acs.address[1],
            "institution": "DEMO",
            "timeout_seconds": 3,
            "timezone": "America/Los_Angeles",
        }
        settings = load_settings(None, **flow_config(tmp_path, ils=[ils]))
        rt = make_runtime(settings, sqlite_engine, redis_conn, clock, ils=None)
        try:
            deposit = record_deposit(
                rt, bank_id="main-lobby", compartment=13, item_barcode=DUNE, deposited_at=deposited
            )
            check_in_deposit(rt, deposit)
        finally:
            rt.close()
        [checkin] = acs.ledger.checkins(DUNE)
    assert checkin.return_date_text == "20260307    233000"
    assert checkin.return_date == deposited
