"""``/readyz`` names each ILS and each lock controller, and never hangs on a silent catalogue."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import Engine, update

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.services.health import probe_ils
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import BankRow
from bridge.web.app import create_app
from sip2.acs.server import ReferenceACS
from tests.support.acs import CATALOGUE
from tests.support.config import base_config


def _runtime(tmp_path: Path, engine: Engine, redis: Redis, port: int) -> Runtime:
    ils = [{"name": "main-ils", "port": port, "institution": "DEMO", "timeout_seconds": 10}]
    settings = load_settings(None, **base_config(tmp_path, ils=ils))
    return Runtime.over(settings, engine, redis)


@pytest.fixture
def client_for(tmp_path: Path, sqlite_engine: Engine, redis_conn: Redis) -> Iterator[Any]:
    made: list[Runtime] = []

    def build(port: int, *, synced: bool = True) -> tuple[Any, Runtime]:
        rt = _runtime(tmp_path, sqlite_engine, redis_conn, port)
        made.append(rt)
        if synced:
            sync_banks(rt)
        app = create_app(rt.settings, rt)
        app.config["TESTING"] = True
        return app.test_client(), rt

    yield build
    for rt in made:
        for value in rt._cache.values():
            getattr(value, "close", lambda: None)()


def test_ready_when_the_catalogue_and_every_controller_answer(
    client_for: Any, acs: ReferenceACS
) -> None:
    client, _rt = client_for(acs.address[1])

    ready = client.get("/readyz")

    assert ready.status_code == 200, ready.json
    assert ready.json["checks"]["ils:main-ils"] == "ok"
    assert ready.json["checks"]["controller:main-lobby"] == "ok"
    assert ready.json["checks"]["controller:east-station"] == "ok"


def test_a_catalogue_that_is_down_makes_the_app_not_ready_and_is_named(client_for: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    client, _rt = client_for(closed)

    ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json["checks"]["ils:main-ils"].startswith("down")
    assert ready.json["checks"]["database"] == "ok"


def test_a_catalogue_that_accepts_but_never_answers_does_not_hang_the_check(
    client_for: Any,
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        client, _rt = client_for(silent.getsockname()[1])
        started = time.monotonic()
        ready = client.get("/readyz")
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        silent.close()

    assert ready.status_code == 503
    assert ready.json["checks"]["ils:main-ils"] == "down: no answer within 2 s"
    assert took < 6


def test_the_periodic_probe_result_is_used_without_asking_the_catalogue_again(
    client_for: Any, acs: ReferenceACS
) -> None:
    client, rt = client_for(acs.address[1])
    assert probe_ils(rt)["main-ils"].ok
    acs.go_down()

    ready = client.get("/readyz")

    # The scheduler's probe is at most 90 s old; readiness trusts it rather than pinging.
    assert ready.json["checks"]["ils:main-ils"] == "ok"


def test_an_offline_controller_is_named(client_for: Any, acs: ReferenceACS) -> None:
    client, rt = client_for(acs.address[1])
    with unit_of_work(rt.sessions) as s:
        s.execute(
            update(BankRow).where(BankRow.id == "east-station").values(controller_online=False)
        )

    ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json["checks"]["controller:east-station"] == "down: the controller is offline"
    assert ready.json["checks"]["controller:main-lobby"] == "ok"


def test_a_bank_not_yet_in_the_database_is_not_ready(client_for: Any, acs: ReferenceACS) -> None:
    client, _rt = client_for(acs.address[1], synced=False)

    ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json["checks"]["controller:main-lobby"].startswith("down: the bank is not in")


# --- what "up" and "down" mean -------------------------------------------------------------


def test_a_catalogue_whose_status_says_n_n_is_ready_with_the_flags_as_warnings(
    client_for: Any,
) -> None:
    from sip2.acs.modes import Modes

    with ReferenceACS(CATALOGUE, modes=Modes(status_says_no=True)) as acs:
        client, _rt = client_for(acs.address[1])
        ready = client.get("/readyz")

    assert ready.status_code == 200, ready.json
    assert ready.json["checks"]["ils:main-ils"] == "ok"
    assert ready.json["warnings"]["ils:main-ils"] == [
        "the ILS's status reply says check-in is not allowed (98 checkin ok N)",
        "the ILS's status reply says checkout is not allowed (98 checkout ok N)",
    ]


def test_a_refused_login_is_down_with_its_own_message(client_for: Any, acs: ReferenceACS) -> None:
    acs.faults.refuse_logins = True
    client, _rt = client_for(acs.address[1])

    ready = client.get("/readyz")

    assert ready.status_code == 503
    check = ready.json["checks"]["ils:main-ils"]
    assert check.startswith("down: SIP login refused for 'lockers-main'")
    assert "user and password" in check


def test_a_closed_port_is_down_as_no_answer(client_for: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    client, _rt = client_for(closed)

    check = client.get("/readyz").json["checks"]["ils:main-ils"]

    assert check.startswith(f"down: no answer from 127.0.0.1:{closed}")


def test_replies_that_stay_unreadable_are_down_as_protocol_errors(client_for: Any) -> None:
    garbled = socket.socket()
    garbled.bind(("127.0.0.1", 0))
    garbled.listen(8)
    stop = threading.Event()

    def answer_nonsense() -> None:
        garbled.settimeout(0.2)
        while not stop.is_set():
            try:
                conn = garbled.accept()[0]
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    while conn.recv(4096):
                        conn.sendall(b"ZZ this is no SIP2 at all\r")
                except OSError:
                    pass

    thread = threading.Thread(target=answer_nonsense, daemon=True)
    thread.start()
    try:
        client, _rt = client_for(garbled.getsockname()[1])
        check = client.get("/readyz").json["checks"]["ils:main-ils"]
    finally:
        stop.set()
        thread.join(3)
        garbled.close()

    assert "unreadable SIP2 (twice in a row)" in check, check
