"""A live Lockerbridge for the security probes: gunicorn with three processes (four threads
each) on PostgreSQL or on an SQLite file, a private redis-server, the reference SIP2 server
behind a counting relay (so a probe sees exactly which PINs reached the ILS), and simulated
doors. One server per database per module; probes attack it over real HTTP with 50 threads.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.storage.migrate import upgrade
from sip2.acs.server import ReferenceACS
from tests.support.config import REPO
from tests.topology.procs import (
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

ATTACKERS = 50
CARD, PIN = "23000000000001", "1234"  # examples/catalogue.json
PATRONS = [("23000000000001", "1234"), ("23000000000002", "2345"), ("23000000000003", "3456")]
DAYUSE_DOORS = (11, 12)
CODE_BUDGET = 30  # access.code_failures_per_bank_per_day for the probes


class SipRelay:
    """A TCP relay in front of the ACS that counts the PINs (field AD) of each patron request
    passing through: what the ILS was really asked, whatever the bridge believes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.pins: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        buf = b""
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if count:
                    buf += data
                    *frames, buf = buf.split(b"\r")
                    for frame in frames:
                        self._count(frame.decode("latin-1"))
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def _count(self, frame: str) -> None:
        if frame[:2] in ("63", "23"):
            m = re.search(r"\|AD([^|]*)", frame)
            if m:
                with self._lock:
                    self.pins[m.group(1)] += 1

    def wrong_pins(self, right: str) -> int:
        with self._lock:
            return sum(n for pin, n in self.pins.items() if pin != right)

    def close(self) -> None:
        self._sock.close()


@dataclass
class Live:
    url: str
    settings: Settings
    rt: Runtime
    relay: SipRelay
    database: str
    procs: Procs
    kiosk_tokens: list[str] = field(default_factory=list)

    def browser(self, kiosk: str | None = None) -> requests.Session:
        s = requests.Session()
        if kiosk:
            s.cookies.set("lb_kiosk", kiosk)
        return s

    def form_post(
        self,
        session: requests.Session,
        path: str,
        data: dict[str, str],
        form: str | None = None,
        **kw: Any,
    ) -> requests.Response:
        """GETs the form (``form``, else ``path``) for its CSRF token, then POSTs to ``path``,
        as a browser does."""
        page = session.get(f"{self.url}{form or path}", timeout=60, **kw)
        m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        token = m.group(1) if m else ""
        return session.post(
            f"{self.url}{path}", data={**data, "csrf_token": token}, timeout=60, **kw
        )


def attack(n: int, one: Callable[[int], Any]) -> list[Any]:
    """``n`` attackers at once, each running ``one(i)``; their results in order."""
    start = threading.Barrier(n)

    def run(i: int) -> Any:
        start.wait()
        return one(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def config(database_url: str, redis_url: str, sip_port: int) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "log_level": "WARNING",
        "web": {"secret_key": "s" * 48, "secure_cookies": False},
        "security": {
            "code_keys": ["security-probe-code-key-0123456789abcdef"],
            # Cheap password hashing: the probes count attempts, not hashing cost.
            "staff_password_hashing": "fast-insecure-for-tests",
        },
        "access": {"code_failures_per_bank_per_day": CODE_BUDGET},
        "ils": [
            {
                "name": "main-ils",
                "profile": "koha",
                "host": "127.0.0.1",
                "port": sip_port,
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
                "driver": {"kind": "simulated", "door_delay_seconds": 0.0},
                "compartment_ranges": [
                    {"first": 1, "last": 12, "size": "M"},
                    {"first": 13, "last": 16, "size": "M", "purpose": "return"},
                ],
            }
        ],
        "routing": [{"location": "MAIN-LOCKER", "bank": "main-lobby"}],
        "dayuse": {"compartments": {"main-lobby": list(DAYUSE_DOORS)}, "per_patron": 1},
    }


@contextlib.contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'lockerbridge.db'}"
    else:
        with pg_database() as url:
            yield url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    if request.param == "postgresql" and request.getfixturevalue("pg_reason"):
        pytest.skip(request.getfixturevalue("pg_reason"))
    tmp = tmp_path_factory.mktemp(f"security-{request.param}")
    cleanup: list[Callable[[], Any]] = []
    procs: Procs | None = None
    try:
        with _database(request.param, tmp) as database_url:
            redis = started_redis(tmp / "redis")
            cleanup.append(redis.close)
            acs = ReferenceACS(REPO / "examples" / "catalogue.json", behaviour="koha")
            acs.start()
            cleanup.append(acs.stop)
            relay = SipRelay(acs.address)
            cleanup.append(relay.close)
            path = tmp / "lockerbridge.toml"
            path.write_text(toml(config(database_url, redis.url, relay.port)))
            settings = load_settings(path)
            rt = Runtime.from_settings(settings)
            cleanup.append(rt.close)
            upgrade(rt.engine)
            sync_banks(rt)
            env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
            env.update(
                LOCKERBRIDGE_CONFIG=str(path),
                LOCKERBRIDGE_LOG_LEVEL="WARNING",
                GUNICORN_ACCESSLOG="",
            )
            procs = Procs(tmp / "logs", env)
            port = free_port()
            procs.start("gunicorn", gunicorn_argv(port, workers=3, threads=4))
            url = f"http://127.0.0.1:{port}"
            wait_until(
                lambda: requests.get(f"{url}/healthz", timeout=5).status_code == 200,
                timeout=90,
                what=f"gunicorn to answer ({procs.log('gunicorn')[-800:]})",
            )
            yield Live(url, settings, rt, relay, request.param, procs)
    finally:
        if procs is not None:
            running = list(procs.running.values())
            procs.stop_all()
            assert not any(group_alive(p.pid) for p in running), "a process outlived the probes"
        for close in reversed(cleanup):
            close()


def figure(live: Live, name: str, value: object) -> None:
    """Each probe prints its figure (``pytest -s`` or the CI log shows them)."""
    print(f"\n[security:{live.database}] {name}: {value}")
