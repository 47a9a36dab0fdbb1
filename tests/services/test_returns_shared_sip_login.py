"""Banks sharing the ILS's one SIP login (``[[ils]] sip_login``, docs/configuration.md): every
bank's check-ins go over the one account's session, and each is made at the bank's own branch
(AP), so a hold is captured for the bank the item was returned to, not for the login's
location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.config import load_settings
from bridge.services.returns.checkin import check_in_deposit
from bridge.services.returns.recording import record_deposit
from sip2.acs.catalogue import HoldState
from sip2.acs.catalogue_file import catalogue_from_dict
from sip2.acs.server import ReferenceACS
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

SHARED = {"user": "lockers-all", "password": "pw-all", "location": "MAIN"}  # the front desk


def test_two_banks_on_the_shared_login_log_in_once_and_check_in_at_their_own_branch(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    data = json.loads((REPO / "examples" / "catalogue.json").read_text())
    data["accounts"].append({**SHARED, "institution": "DEMO"})
    with ReferenceACS(catalogue_from_dict(data), clock=clock) as acs:
        ils = {"name": "main-ils", "port": acs.address[1], "institution": "DEMO",
               "timeout_seconds": 2, "timezone": "UTC", "sip_login": SHARED}  # fmt: skip
        cfg = flow_config(tmp_path, ils=[ils])
        for bank in cfg["banks"]:
            del bank["sip_login"]
        rt = make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, clock, ils=None)
        try:
            # 39000000000001 is held for pickup at MAIN-LOCKER; 39000000000010 is on loan.
            for bank, door, item in (
                ("main-lobby", 13, "39000000000001"),
                ("east-station", 5, "39000000000010"),
                ("main-lobby", 14, "39000000000003"),
            ):
                deposit = record_deposit(
                    rt, bank_id=bank, compartment=door, item_barcode=item, deposited_at=clock()
                )
                check_in_deposit(rt, deposit)
        finally:
            rt.close()
        assert acs.logins == ["lockers-all"]
        assert [(e.account, e.item, e.location) for e in acs.ledger.checkins()] == [
            ("lockers-all", "39000000000001", "MAIN-LOCKER"),
            ("lockers-all", "39000000000010", "EAST-LOCKER"),
            ("lockers-all", "39000000000003", "MAIN-LOCKER"),
        ]
        hold = acs.catalogue.hold("H1")
        assert hold is not None and hold.state is HoldState.WAITING  # on the shelf at the bank
