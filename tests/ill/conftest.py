"""Fixtures for the ILL flow: the app with its /ncip endpoint, and local HTTP servers playing
NCIP peers (the ILS's NCIP responder, an ILL partner)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import Engine, func, select

from bridge.config import Settings, load_settings
from bridge.runtime import QUEUE_NAMES, Runtime
from bridge.services.bank_setup import sync_banks
from bridge.storage.base import Base
from bridge.storage.db import unit_of_work
from bridge.web.app import create_app
from tests.support.config import SHARED, base_config
from tests.support.db import copied_sqlite

NCIP_DIR = SHARED / "ncip"
SAMPLES = NCIP_DIR / "samples"
PARTNER = "RESHARE"
PARTNER_SECRET = "partner-secret-0123456789"
ILS_SECRET = "ils-side-secret-0123456789"
PARTNER_DN = "CN=ncip.reshare.example,O=Example Consortium"
# A second ILL system, shaped as OCLC's (its RequestIds carry no AgencyId).
OTHER = "OCLC"
OTHER_SECRET = "oclc-secret-abcdefghijklmnop"
OTHER_DN = "CN=ncip.oclc.example,O=Other Network"


def ill_config(tmp_path: Path, *, partner_url: str | None = None, **over: Any) -> dict[str, Any]:
    cfg = base_config(tmp_path, **over)
    for bank in cfg["banks"]:
        bank.setdefault("driver", {"kind": "simulated", "door_delay_seconds": 0.0})
    cfg["ils"][0].setdefault("ncip", {"shared_secret": ILS_SECRET})
    cfg["ill_partners"] = [
        {
            "agency": PARTNER,
            "url": partner_url,
            "shared_secret": PARTNER_SECRET,
            "client_dn": PARTNER_DN,
        },
        {"agency": OTHER, "shared_secret": OTHER_SECRET, "client_dn": OTHER_DN},
    ]
    cfg["routing"] = [*cfg["routing"], {"location": "FAIRCHILD", "bank": "main-lobby"}]
    # The test client's address stands for the TLS proxy that verifies client certificates.
    cfg["web"] = {**cfg["web"], "trusted_proxies": ["127.0.0.1"]}
    return cfg


def make_runtime(settings: Settings, engine: Engine, redis: Any) -> Runtime:
    rt = Runtime.over(settings, engine, redis)
    sync_banks(rt)
    return rt


KEEP = frozenset({"bank", "compartment", "alembic_version"})


@pytest.fixture(scope="module")
def ill_engine(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Engine]:
    """One copy of the migrated SQLite template per test module, shared with the module's app
    and emptied before each test."""
    engine = copied_sqlite(sqlite_template, tmp_path_factory.mktemp("ill") / "ill.db")
    yield engine
    engine.dispose()


def clear(engine: Engine) -> None:
    """Every row but the banks and their compartments (they come from the configuration)."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP:
                conn.execute(table.delete())


@pytest.fixture(scope="module")
def module_rt(
    tmp_path_factory: pytest.TempPathFactory, ill_engine: Engine, embedded_redis: Any
) -> Iterator[Runtime]:
    settings = load_settings(None, **ill_config(tmp_path_factory.mktemp("cfg")))
    runtime = make_runtime(settings, ill_engine, Redis.from_url(embedded_redis.url))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def app(module_rt: Runtime) -> Flask:
    flask_app = create_app(module_rt.settings, module_rt)
    flask_app.testing = True
    return flask_app


@pytest.fixture
def rt(module_rt: Runtime) -> Runtime:
    """The module's runtime with an empty database and Redis."""
    clear(module_rt.engine)
    module_rt.redis.flushall()
    return module_rt


@pytest.fixture
def client(app: Flask, rt: Runtime) -> FlaskClient:
    return app.test_client()


def post_ncip(client: FlaskClient, body: bytes, secret: str | None = PARTNER_SECRET) -> Any:
    """POST to /ncip; every answer must be valid NCIP (checked here, once for all tests)."""
    headers = {"Content-Type": "application/xml"}
    if secret is not None:
        headers["X-NCIP-Secret"] = secret
    answer = client.post("/ncip", data=body, headers=headers)
    assert_schema_valid(answer.data)
    return answer


class BurstWorker(SimpleWorker):
    """rq's SimpleWorker without its command channel (pubsub), which a burst run in a test
    never uses: with rq 3.0 and redis-py 8.2, stopping that channel's thread can wait out its
    60 s poll when the unsubscribe wins the race against the subscription."""

    def subscribe(self) -> None:
        self.pubsub_thread = None


def work(rt: Runtime) -> None:
    """Runs every queued job in a real rq worker, until the queues are empty."""
    worker = BurstWorker([rt.queue(n) for n in QUEUE_NAMES], connection=rt.redis)
    worker.work(burst=True, logging_level="WARNING")


# --- NCIP peers -----------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class NcipPeer:
    """A local HTTP server answering NCIP POSTs with ``answer(body)``; records what it got."""

    answer: Callable[[bytes], bytes]
    received: list[Received] = field(default_factory=list)
    status: int = 200
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/ncip"

    def start(self) -> NcipPeer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                peer.received.append(Received(dict(self.headers.items()), body))
                reply = peer.answer(body) if peer.status == 200 else b""
                self.send_response(peer.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def peer_factory() -> Iterator[Callable[[Callable[[bytes], bytes]], NcipPeer]]:
    peers: list[NcipPeer] = []

    def make(answer: Callable[[bytes], bytes]) -> NcipPeer:
        peer = NcipPeer(answer).start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()
    # Everything our NCIP client sent to a peer must be valid NCIP.
    for peer in peers:
        for got in peer.received:
            assert_schema_valid(got.body)


# --- assertions -----------------------------------------------------------------------------


def need_shared() -> None:
    if not (NCIP_DIR / "ncip_v2_02.xsd").is_file():
        pytest.skip(f"NCIP reference data not found at {NCIP_DIR}")


@cache
def schema(name: str = "ncip_v2_02.xsd") -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(NCIP_DIR / name)))


def assert_schema_valid(body: bytes) -> None:
    """Valid against NCIP 2.02, or, for LookupVersion, the version-discovery schema."""
    need_shared()
    doc = etree.fromstring(body)
    checker = schema("ncip_version.xsd" if doc.tag == "NCIPVersionMessage" else "ncip_v2_02.xsd")
    assert checker.validate(doc), checker.error_log.last_error


def row_counts(rt: Runtime) -> dict[str, int]:
    """Rows in every table: what "changes nothing" is checked against."""
    with unit_of_work(rt.sessions) as s:
        return {
            name: s.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }
