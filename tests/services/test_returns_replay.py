"""Deposits stored while the catalogue was down are replayed as soon as it answers again,
even when its status reply says check-in is not allowed (real servers say N while serving)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.config import load_settings
from bridge.services.returns.checkin import check_in_deposit, replay_waiting
from bridge.services.returns.recording import record_deposit
from bridge.services.sweeper import sweep_outbox
from lockers.states import DepositState
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"
DUNE = "39000000000003"


def test_waiting_deposits_are_replayed_at_the_next_sweep_whatever_the_status_flags(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> None:
    with ReferenceACS(CATALOGUE, clock=clock, modes=Modes(status_says_no=True)) as acs:
        ils = {"name": "main-ils", "port": acs.address[1], "institution": "DEMO",
               "timeout_seconds": 2, "timezone": "UTC"}  # fmt: skip
        settings = load_settings(None, **flow_config(tmp_path, ils=[ils]))
        assert settings.sweeper_interval_seconds <= 60  # the sweep is what starts the replay
        rt = make_runtime(settings, sqlite_engine, redis_conn, clock, ils=None)
        try:
            acs.go_down()
            deposit = record_deposit(
                rt, bank_id="main-lobby", compartment=13, item_barcode=DUNE,
                deposited_at=clock(),
            )  # fmt: skip
            assert check_in_deposit(rt, deposit) is DepositState.WAITING_FOR_ILS
            acs.come_back()
            # Same instant: only the replay, not the deposit's own retry backoff, makes it due.
            assert replay_waiting(rt) == 1  # what each sweep runs first: the deposit is due now
            sweep_outbox(rt)
            # Its return fills a hold here, so it ends with staff, after the ILS took it.
            assert check_in_deposit(rt, deposit) is DepositState.NEEDS_STAFF
        finally:
            rt.close()
        [checkin] = acs.ledger.checkins(DUNE)
    assert checkin.ok and checkin.loan_closed and checkin.alert == "01"
