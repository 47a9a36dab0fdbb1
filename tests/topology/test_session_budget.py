"""A SIP server with one worker (one session at a time, like a small pre-forking server) serves
the web process, a worker process and the CLI in turn, because each closes its idle session
after ``idle_close_seconds`` instead of keeping it alive with heartbeats."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.returns.recording import record_deposit
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.returns import DepositRow
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from tests.sandbox import config_toml
from tests.support.config import REPO

CATALOGUE = REPO / "examples" / "catalogue.json"
ANA_DVD = "39000000000010"  # on loan in the sample catalogue


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def one_worker_acs() -> Iterator[ReferenceACS]:
    with ReferenceACS(CATALOGUE, modes=Modes(workers=1)) as acs:
        yield acs


def _cli(cfg: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LOCKERBRIDGE_CONFIG=str(cfg))
    return subprocess.run(
        [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(cfg), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@pytest.mark.slow
def test_a_one_worker_server_serves_the_web_process_the_worker_and_the_cli_in_turn(
    tmp_path: Path, one_worker_acs: ReferenceACS, embedded_redis: Any, redis_conn: Redis
) -> None:
    db_url = f"sqlite:///{tmp_path}/budget.db"
    upgrade(make_engine(db_url))
    text = config_toml(db_url, embedded_redis.url, one_worker_acs.address[1], "s" * 40)
    text = text.replace(
        "timeout_seconds = 2.0\n", "timeout_seconds = 3.0\nidle_close_seconds = 0.5\n"
    )
    cfg = tmp_path / "lockerbridge.toml"
    cfg.write_text(text)
    rt = Runtime.over(load_settings(cfg), make_engine(db_url), redis_conn)

    port = _free_port()
    env = dict(os.environ, LOCKERBRIDGE_CONFIG=str(cfg))
    web = subprocess.Popen(
        [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(cfg), "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        ready: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    ready = json.load(r)
                break
            except urllib.error.HTTPError as exc:
                ready = json.load(exc)
                break
            except OSError:
                time.sleep(0.2)
        # 1. The web process logs in and asks for the status: it holds the only worker.
        assert ready.get("checks", {}).get("ils:main-ils") == "ok", ready
        assert one_worker_acs.connection_count == 1

        # 2. A worker process checks a deposit in: the web process's idle session was closed.
        deposit = record_deposit(
            rt, bank_id="main-lobby", compartment=3, item_barcode=ANA_DVD,
            deposited_at=datetime.now(UTC),
        )  # fmt: skip
        burst = _cli(cfg, "worker", "--burst")
        assert burst.returncode == 0, burst.stderr[-2000:]
        with unit_of_work(rt.sessions) as s:
            row = s.get(DepositRow, deposit)
            assert row is not None and row.state != "waiting_for_ils", row.last_error
        assert len(one_worker_acs.ledger.checkins(ANA_DVD)) == 1

        # 3. Staff ask from the command line, with the bank's login from the configuration.
        ping = _cli(cfg, "sip2", "--bank", "main-lobby", "ping")
        assert ping.returncode == 0, ping.stderr
        assert "AcsStatus" in ping.stdout
    finally:
        web.terminate()
        web.wait(10)
        rt.close()
