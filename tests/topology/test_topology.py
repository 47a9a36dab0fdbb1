"""The production topology on one machine, without containers, with faults: nothing is lost.

PostgreSQL (a database of its own), a private redis-server, ``lockerbridge db upgrade`` from two
processes at once, gunicorn with three processes, three ``lockerbridge worker`` processes and a
``lockerbridge scheduler``, the reference SIP2 server (in this process, so its ledger can be
read), two simulated banks behind HTTP controllers, and an SMTP server. The pickup, return and
notification flows run through the JSON API and the controllers' signed webhook (every deposit
is recorded by a door-close event); one worker and one gunicorn process are killed
with SIGKILL in the middle. Then every deposit must be checked in exactly once, every patron
told exactly once, every load recorded, ``/readyz`` green and ``/metrics`` showing the counts.

It also measures check-ins per second with one and with three workers, and web requests per
second, and prints them (``pytest tests/topology/test_topology.py -s``); docs/operations.md
quotes them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from rq.suspension import resume, suspend
from sqlalchemy import func, select, text

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.tables.core import OutboxRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow
from sip2.acs.server import ReferenceACS
from tests.sandbox import deposit_through_the_door
from tests.support.config import REPO
from tests.support.servers import Mailbox
from tests.topology.controllers import BankController
from tests.topology.procs import (
    BIN,
    Procs,
    free_port,
    group_alive,
    gunicorn_argv,
    pg_database,
    redis_server_binary,
    started_redis,
    toml,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(420)]

HOLDS = 6  # patrons with a hold at the main bank: loaded, told, collected over the API
API_RETURNS = 6  # returns through the kiosk API and a return door
BURST_ONE = 30  # deposits checked in by one worker (measured)
BURST_THREE = 45  # deposits checked in by three workers (measured)
BURST_KILL = 20  # deposits in flight when a worker is killed
STAFF_TOKEN = "scanner-token-0123456789abcdef"
KIOSK_TOKEN = "kiosk-token-0123456789abcdefgh"
KEYS = {
    "main-lobby": b"main-lobby-controller-key-0123456789",
    "east-station": b"east-key-0123456789abcdef0123456789",
}
RETURN_DOORS = range(21, 21 + API_RETURNS + 2)


def patron(n: int) -> str:
    return f"2399000000{n:04d}"


def hold_item(n: int) -> str:
    return f"3999100000{n:04d}"


def return_item(n: int) -> str:
    return f"3999200000{n:04d}"


def catalogue(path: Path, returns: int) -> Path:
    """The sample catalogue plus the holds and loans this run needs."""
    data = json.loads((REPO / "examples" / "catalogue.json").read_text())
    due = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    for n in range(1, HOLDS + 1):
        data["patrons"].append(
            {
                "barcode": patron(n),
                "pin": "1234",
                "first_name": f"Reader{n}",
                "last_name": "Test",
                "email": f"reader{n}@example.org",
                "language": "en",
            }
        )
        data["items"].append({"barcode": hold_item(n), "title": f"Held book {n}", "home": "MAIN"})
        data["holds"].append(
            {
                "id": f"T{n}",
                "patron": patron(n),
                "item": hold_item(n),
                "pickup": "MAIN-LOCKER",
                "expires": "2031-12-31",
            }
        )
    for n in range(1, returns + 1):
        # Owned by the locker branch, so a return there needs no transfer.
        data["items"].append(
            {
                "barcode": return_item(n),
                "title": f"Loaned book {n}",
                "home": "MAIN-LOCKER",
                "status": "charged",
                "charged_to": "23000000000002",
                "due": due,
                "at": "MAIN",
            }
        )
    path.write_text(json.dumps(data))
    return path


def config(
    database_url: str,
    redis_url: str,
    acs_port: int,
    smtp_port: int,
    controllers: dict[str, BankController],
) -> dict[str, Any]:
    def driver(bank: str) -> dict[str, Any]:
        return {
            "kind": "http",
            "controller_url": controllers[bank].url,
            "signing_key": KEYS[bank].decode(),
        }

    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "outbox_lease_seconds": 10,
        "sweeper_interval_seconds": 3,
        "log_level": "WARNING",
        "web": {"secret_key": "w" * 40, "secure_cookies": False},
        "security": {"code_keys": ["topology-code-key-0123456789abcdef"]},
        "ils": [
            {
                "name": "main-ils",
                "profile": "koha",
                "host": "127.0.0.1",
                "port": acs_port,
                "institution": "DEMO",
                "timeout_seconds": 5,
            }
        ],
        "banks": [
            {
                "id": "main-lobby",
                "name": "Main Library lobby",
                "branch": "MAIN-LOCKER",
                "ils": "main-ils",
                "sip_login": {"user": "lockers-main", "password": "demo-main"},
                "driver": driver("main-lobby"),
                "compartment_ranges": [
                    {"first": 1, "last": 12, "size": "M"},
                    {
                        "first": RETURN_DOORS.start,
                        "last": RETURN_DOORS.stop - 1,
                        "size": "M",
                        "purpose": "return",
                    },
                ],
            },
            {
                "id": "east-station",
                "name": "East station",
                "branch": "EAST-LOCKER",
                "ils": "main-ils",
                "sip_login": {"user": "lockers-east", "password": "demo-east"},
                "driver": driver("east-station"),
                "compartment_ranges": [
                    {"first": 1, "last": 4, "size": "M"},
                    {"first": 5, "last": 6, "size": "M", "purpose": "return"},
                ],
            },
        ],
        "routing": [
            {"location": "MAIN-LOCKER", "bank": "main-lobby"},
            {"location": "EAST-LOCKER", "bank": "east-station"},
        ],
        "notifications": {
            "library_name": "Demo City Library",
            "email": {"enabled": True, "host": "127.0.0.1", "port": smtp_port},
        },
        "api": {
            "tokens": [
                {"name": "scanner-1", "token": STAFF_TOKEN, "role": "staff"},
                {"name": "kiosk-1", "token": KIOSK_TOKEN, "role": "kiosk"},
            ]
        },
    }


@dataclass
class World:
    tmp: Path
    procs: Procs
    settings: Settings
    rt: Runtime
    acs: ReferenceACS
    mailbox: Mailbox
    controllers: dict[str, BankController]
    web: str
    figures: dict[str, float] = field(default_factory=dict)
    workers: list[str] = field(default_factory=list)

    # -- HTTP ------------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any], token: str) -> requests.Response:
        """One request on a fresh connection (a kept-alive one may lead to a killed process)."""
        return requests.post(
            f"{self.web}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=60,
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.web}{path}", headers={"Connection": "close"}, timeout=60)

    # -- processes -------------------------------------------------------------------------

    def start_worker(self) -> str:
        name = f"worker-{len(self.workers) + 1}"
        self.procs.start(name, [str(BIN / "lockerbridge"), "worker"])
        self.workers.append(name)
        return name

    def gunicorn_children(self) -> list[int]:
        master = self.procs.running["gunicorn"].pid
        out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    # -- the database ----------------------------------------------------------------------

    def deposits(self) -> dict[str, int]:
        with unit_of_work(self.rt.sessions) as s:
            rows = s.execute(select(DepositRow.state, func.count()).group_by(DepositRow.state))
            return {state: n for state, n in rows}

    def checked_in_times(self, items: list[str]) -> list[datetime]:
        with unit_of_work(self.rt.sessions) as s:
            return sorted(
                s.scalars(
                    select(DepositRow.state_since).where(
                        DepositRow.item_barcode.in_(items), DepositRow.state == "checked_in"
                    )
                )
            )

    def wait_checked_in(self, items: list[str], timeout: float) -> list[datetime]:
        wait_until(
            lambda: len(self.checked_in_times(items)) == len(items),
            timeout=timeout,
            every=0.2,
            what=f"{len(items)} deposits checked in (now {self.deposits()})",
        )
        return self.checked_in_times(items)


def rate(times: list[datetime]) -> float:
    span = (times[-1] - times[0]).total_seconds()
    return (len(times) - 1) / span if span > 0 else float("inf")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    total_returns = BURST_ONE + BURST_THREE + BURST_KILL + API_RETURNS
    procs: Procs | None = None
    cleanup: list[Any] = []
    try:
        with pg_database() as database_url:
            redis = started_redis(tmp_path / "redis")
            cleanup.append(redis.close)
            acs = ReferenceACS(catalogue(tmp_path / "catalogue.json", total_returns))
            acs.start()
            cleanup.append(acs.stop)
            mailbox = Mailbox()
            mailbox.controller.start()
            cleanup.append(mailbox.controller.stop)
            controllers = {
                "main-lobby": BankController(
                    "main-lobby", range(1, RETURN_DOORS.stop), KEYS["main-lobby"]
                ),
                "east-station": BankController("east-station", range(1, 7), KEYS["east-station"]),
            }
            cleanup.extend(c.close for c in controllers.values())
            cfg = config(database_url, redis.url, acs.address[1], mailbox.port, controllers)
            path = tmp_path / "lockerbridge.toml"
            path.write_text(toml(cfg))
            metrics_dir = tmp_path / "prometheus"
            metrics_dir.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
            env.update(
                LOCKERBRIDGE_CONFIG=str(path),
                LOCKERBRIDGE_LOG_LEVEL="WARNING",
                PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                GUNICORN_ACCESSLOG="",
            )
            procs = Procs(tmp_path / "logs", env)
            settings = load_settings(path)
            rt = Runtime.from_settings(settings)
            cleanup.append(rt.close)
            port = free_port()
            world = World(
                tmp_path, procs, settings, rt, acs, mailbox, controllers, f"http://127.0.0.1:{port}"
            )
            for c in controllers.values():
                c.webhook = world.web + "/api/v1/banks/{bank}/controller/events"
            yield world
    finally:
        if procs is not None:
            running = list(procs.running.values())
            procs.stop_all()
            assert not any(group_alive(p.pid) for p in running), "a process outlived the test"
        for close in reversed(cleanup):
            close()


def _upgrade_twice_at_once(w: World) -> None:
    argv = [str(BIN / "lockerbridge"), "db", "upgrade"]
    first = w.procs.start("upgrade-1", argv)
    second = w.procs.start("upgrade-2", argv)
    for name, proc in (("upgrade-1", first), ("upgrade-2", second)):
        assert proc.wait(120) == 0, w.procs.log(name)
    engine = make_engine(w.settings.database_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert len(versions) == 1


def _start_web(w: World) -> None:
    port = int(w.web.rsplit(":", 1)[1])
    w.procs.start("gunicorn", gunicorn_argv(port, workers=3, threads=4))
    wait_until(
        lambda: w.get("/healthz").status_code == 200,
        timeout=120,
        what=f"gunicorn to answer ({w.procs.log('gunicorn')[-800:]})",
    )
    wait_until(lambda: len(w.gunicorn_children()) == 3, timeout=60, what="three web processes")


def _measure_checkins(w: World) -> None:
    """One worker, then three, each draining a backlog recorded while they were suspended."""
    one = [return_item(n) for n in range(1, BURST_ONE + 1)]
    three = [return_item(n) for n in range(BURST_ONE + 1, BURST_ONE + BURST_THREE + 1)]
    suspend(w.rt.redis)
    w.start_worker()
    _deposit_through_the_door(w, 21, one)
    resume(w.rt.redis)
    w.figures["checkins_per_s_1_worker"] = rate(w.wait_checked_in(one, timeout=120))

    suspend(w.rt.redis)
    w.start_worker()
    w.start_worker()
    wait_until(lambda: len(_rq_workers(w)) == 3, timeout=90, what="three rq workers")
    _deposit_through_the_door(w, 21, three)
    resume(w.rt.redis)
    w.figures["checkins_per_s_3_workers"] = rate(w.wait_checked_in(three, timeout=120))


def _deposit_through_the_door(
    w: World, door: int, items: list[str], *, settle: bool = True
) -> None:
    """Deposits enter as they do at a bank: the kiosk's scan reserves the return door for the
    item, then the patron opens it, puts the item in and shuts it, and the controller posts
    its signed events to the webhook (a web process records the deposit on the close)."""
    bank = w.controllers["main-lobby"]
    for item in items:
        deposit_through_the_door(w.rt, bank.sim, door, item)
    if settle:
        bank.settle()


def _rq_workers(w: World) -> list[Any]:
    from rq import Worker

    return Worker.all(connection=w.rt.redis)


def _load_holds(w: World, holds: range) -> None:
    bank = w.controllers["main-lobby"]
    for n in holds:
        answer = w.post(
            "/api/v1/banks/main-lobby/loading/scan", {"item": hold_item(n)}, STAFF_TOKEN
        )
        assert answer.status_code == 200 and answer.json()["outcome"] == "door_open", answer.text
        bank.load(answer.json()["compartment"])
    bank.settle()


def _return_over_api(w: World, items: list[str]) -> None:
    bank = w.controllers["main-lobby"]
    for item in items:
        answer = w.post("/api/v1/banks/main-lobby/deposits", {"item": item}, KIOSK_TOKEN)
        assert answer.status_code == 200 and answer.json()["outcome"] == "door_open", answer.text
        bank.load(answer.json()["compartment"])
    bank.settle()


def _code_for(w: World, n: int) -> str:
    messages = [m for _f, to, m in w.mailbox.messages if to == [f"reader{n}@example.org"]]
    assert len(messages) == 1, f"reader {n} got {len(messages)} messages"
    body = messages[0].get_body(("plain",)).get_content()
    found = re.search(r"pickup code: ([0-9]{6,12})", body)
    assert found, body
    return found.group(1)


def _kill_a_worker_mid_burst(w: World) -> list[str]:
    items = [
        return_item(n)
        for n in range(BURST_ONE + BURST_THREE + 1, BURST_ONE + BURST_THREE + BURST_KILL + 1)
    ]
    _deposit_through_the_door(w, 22, items, settle=False)
    wait_until(
        lambda: len(w.checked_in_times(items)) >= 3,
        timeout=60,
        every=0.02,
        what="the burst to be under way",
    )
    victim = w.procs.running[w.workers[0]]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    w.procs.running.pop(w.workers[0])
    return items


def _requests_per_second(
    w: World, path: str, seconds: float = 3.0, clients: int = 8, body: dict[str, Any] | None = None
) -> float:
    session_per_thread: dict[int, requests.Session] = {}

    def hammer(i: int) -> int:
        s = session_per_thread.setdefault(i, requests.Session())
        done, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            if body is None:
                r = s.get(f"{w.web}{path}", timeout=30)
            else:
                r = s.post(
                    f"{w.web}{path}",
                    json=body,
                    timeout=30,
                    headers={"Authorization": f"Bearer {STAFF_TOKEN}"},
                )
            assert r.status_code == 200, r.text
            done += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(hammer, range(clients)))
    for s in session_per_thread.values():
        s.close()
    return total / (time.monotonic() - started)


def test_the_topology_loses_nothing_when_a_worker_and_a_web_process_are_killed(
    world: World,
) -> None:
    w = world
    _upgrade_twice_at_once(w)
    _start_web(w)
    w.procs.start("scheduler", [str(BIN / "lockerbridge"), "scheduler"])

    _measure_checkins(w)

    # Pickup, first half: staff scan, the door opens, staff load, the patron is told.
    _load_holds(w, range(1, HOLDS // 2 + 1))
    # A web process dies between requests; the master replaces it and nothing is lost.
    killed_web = w.gunicorn_children()[0]
    os.kill(killed_web, signal.SIGKILL)
    wait_until(
        lambda: len(w.gunicorn_children()) == 3 and killed_web not in w.gunicorn_children(),
        timeout=90,
        what="gunicorn to replace the killed process",
    )
    _load_holds(w, range(HOLDS // 2 + 1, HOLDS + 1))
    api_returns = [
        return_item(n)
        for n in range(
            BURST_ONE + BURST_THREE + BURST_KILL + 1,
            BURST_ONE + BURST_THREE + BURST_KILL + API_RETURNS + 1,
        )
    ]
    _return_over_api(w, api_returns[: API_RETURNS // 2])
    # A worker dies (SIGKILL) in the middle of a burst of check-ins.
    burst = _kill_a_worker_mid_burst(w)
    _return_over_api(w, api_returns[API_RETURNS // 2 :])

    # Every patron is told once; each collects with the code from the message.
    wait_until(lambda: len(w.mailbox.messages) >= HOLDS, timeout=120, what="the messages")
    for n in range(1, HOLDS + 1):
        answer = w.post(
            "/api/v1/banks/main-lobby/pickup/code", {"code": _code_for(w, n)}, KIOSK_TOKEN
        )
        assert answer.status_code == 200 and answer.json()["outcome"] == "opened", answer.text
        for door in answer.json()["opened"]:
            w.controllers["main-lobby"].collect(door)
    w.controllers["main-lobby"].settle()

    everything = (
        [return_item(n) for n in range(1, BURST_ONE + BURST_THREE + 1)] + burst + api_returns
    )
    # The killed worker's deposit waits for its lease (10 s), then the sweeper hands it on.
    w.wait_checked_in(everything, timeout=180)

    # Nothing lost, nothing twice: the catalogue's own ledger.
    for item in everything:
        assert len(w.acs.ledger.checkins(item)) == 1, item
    for n in range(1, HOLDS + 1):
        assert len(w.acs.ledger.checkins(hold_item(n))) == 1, hold_item(n)
        [loan] = w.acs.ledger.checkouts(hold_item(n))
        assert loan.patron == patron(n) and loan.ok
    time.sleep(1.0)  # a duplicate message would arrive about now
    told = sorted(to[0] for _f, to, _m in w.mailbox.messages)
    assert told == sorted(f"reader{n}@example.org" for n in range(1, HOLDS + 1))
    with unit_of_work(w.rt.sessions) as s:
        assert s.scalar(select(func.count()).select_from(LoadRow)) == 0  # all collected
        sent = s.scalars(select(NotificationRow.state)).all()
        assert sent == ["sent"] * HOLDS
        audit_loaded = s.execute(
            text("SELECT count(*) FROM audit_event WHERE kind = 'item_scanned'")
        ).scalar()
        assert audit_loaded == HOLDS
        open_work = s.scalars(
            select(OutboxRow.kind).where(OutboxRow.state.in_(("pending", "leased", "failed")))
        ).all()
    assert w.deposits() == {"checked_in": len(everything)}
    # The scheduler's periodic sweep may still hold a lease on its own rows; none are ours.
    assert [k for k in open_work if k in ("deposit_checkin", "notification")] == []
    assert all(not c.failures or c.delivered for c in w.controllers.values())

    ready = w.get("/readyz")
    assert ready.status_code == 200, ready.text
    metrics = w.get("/metrics").text
    assert f'lockerbridge_deposits{{state="checked_in"}} {float(len(everything))}' in metrics
    sent_line = re.search(
        r'lockerbridge_notifications_total\{channel="email",result="sent"\} ([0-9.]+)', metrics
    )
    assert sent_line and float(sent_line.group(1)) == HOLDS, metrics[-2000:]
    assert 'lockerbridge_queue_depth{queue="checkins"} 0.0' in metrics

    w.figures["readyz_requests_per_s"] = _requests_per_second(w, "/readyz")
    w.figures["api_scan_requests_per_s"] = _requests_per_second(
        w, "/api/v1/banks/main-lobby/loading/scan", body={"item": hold_item(1)}
    )
    print("\ntopology figures:", json.dumps({k: round(v, 1) for k, v in w.figures.items()}))
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "topology.json").write_text(json.dumps(w.figures, indent=2))
