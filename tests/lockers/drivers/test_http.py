"""The HTTP driver against a controller played by http.server in a thread (HTTP and HTTPS)."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from lockers.drivers.base import CardRead, DoorClosed, DoorOpened, DoorState, DriverEvent
from lockers.drivers.http import HttpDriver
from lockers.drivers.mqtt import execute_command
from lockers.drivers.simulated import SimFault, SimTiming, SimulatedBank
from lockers.drivers.wire import Command, encode_events, verify_webhook
from lockers.errors import (
    ControllerOffline,
    DoorDidNotOpen,
    DriverError,
    ForgedMessage,
    SignatureError,
)
from lockers.signing import Signer, Verifier

KEYS = {"b1": b"http-test-key-bank-1-0123456789"}


def now() -> datetime:
    return datetime.now(UTC)


class Controller(ThreadingHTTPServer):
    """The lock board: verifies signed commands, runs them on a SimulatedBank, signs acks."""

    daemon_threads = True

    def __init__(self, sim: SimulatedBank, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), ControllerHandler)
        self.sim = sim
        self.delay = delay
        self.signer = Signer("b1", KEYS["b1"], now)
        self.verifier = Verifier(KEYS, now)
        self.rejected = 0


class ControllerHandler(BaseHTTPRequestHandler):
    server: Controller

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        channel = self.path.lstrip("/")
        time.sleep(self.server.delay)
        try:
            self.server.verifier.verify_headers(dict(self.headers.items()), body, channel)
        except SignatureError:
            self.server.rejected += 1
            self.send_response(401)
            self.end_headers()
            return
        ack = execute_command(self.server.sim, channel, Command.decode(body))
        reply = self.server.signer.sign("ack", ack.encode())
        self.send_response(200)
        for name, value in reply.headers().items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Rig:
    sim: SimulatedBank
    controller: Controller
    driver: HttpDriver
    base_url: str


def serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def make_driver(url: str, **kw: object) -> HttpDriver:
    return HttpDriver(
        "b1",
        url,
        signer=Signer("b1", KEYS["b1"], now),
        verifier=Verifier(KEYS, now),
        timeout=(1.0, 1.0),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def rig() -> Iterator[Rig]:
    sim = SimulatedBank("b1", range(1, 5), timing=SimTiming(open_delay=0.01, read_delay=0.0))
    controller = Controller(sim)
    thread = serve(controller)
    url = f"http://127.0.0.1:{controller.server_address[1]}"
    driver = make_driver(url)
    try:
        yield Rig(sim, controller, driver, url)
    finally:
        driver.close()
        controller.shutdown()
        controller.server_close()
        thread.join(5)


def test_opening_a_door_over_http_opens_it(rig: Rig) -> None:
    rig.driver.open_door(2)
    assert rig.sim.is_open(2)
    reading = rig.driver.read(2)
    assert (reading.door, reading.occupied) == (DoorState.OPEN, False)


def test_a_jammed_door_is_reported_as_did_not_open(rig: Rig) -> None:
    rig.sim.set_fault(SimFault.JAMMED, 1)
    with pytest.raises(DoorDidNotOpen, match="jammed"):
        rig.driver.open_door(1)


def test_the_controller_refuses_a_command_signed_with_the_wrong_key(rig: Rig) -> None:
    bad = HttpDriver(
        "b1",
        rig.base_url,
        signer=Signer("b1", b"wrong-key-00000000000000000000000", now),
        verifier=Verifier(KEYS, now),
        timeout=(1.0, 1.0),
    )
    with pytest.raises(DriverError, match="401"):
        bad.open_door(1)
    bad.close()
    assert not rig.sim.is_open(1) and rig.controller.rejected == 1


def test_an_ack_signed_with_the_wrong_key_is_not_believed(rig: Rig) -> None:
    rig.controller.signer = Signer("b1", b"wrong-key-00000000000000000000000", now)
    with pytest.raises(ForgedMessage):
        rig.driver.open_door(1)


def test_a_controller_that_does_not_answer_in_time_is_offline() -> None:
    sim = SimulatedBank("b1", [1], timing=SimTiming(open_delay=0.0, read_delay=0.0))
    controller = Controller(sim, delay=1.5)
    thread = serve(controller)
    driver = HttpDriver(
        "b1",
        f"http://127.0.0.1:{controller.server_address[1]}",
        signer=Signer("b1", KEYS["b1"], now),
        verifier=Verifier(KEYS, now),
        timeout=(1.0, 0.3),
    )
    try:
        start = time.monotonic()
        with pytest.raises(ControllerOffline):
            driver.open_door(1)
        assert time.monotonic() - start < 1.2
    finally:
        driver.close()
        controller.shutdown()
        controller.server_close()
        thread.join(5)


def test_a_closed_port_is_offline() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ControllerOffline):
        make_driver(f"http://127.0.0.1:{port}").open_door(1)


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_controller(cert: Path, key: Path) -> tuple[Controller, threading.Thread, str]:
    sim = SimulatedBank("b1", [1], timing=SimTiming(open_delay=0.0, read_delay=0.0))
    controller = Controller(sim)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller.socket = context.wrap_socket(controller.socket, server_side=True)
    return controller, serve(controller), f"https://127.0.0.1:{controller.server_address[1]}"


def test_https_commands_work_with_the_controllers_ca_file(certificate: tuple[Path, Path]) -> None:
    controller, thread, url = tls_controller(*certificate)
    trusting = make_driver(url, ca_file=str(certificate[0]))
    untrusting = make_driver(url)
    try:
        trusting.open_door(1)
        assert controller.sim.is_open(1)
        with pytest.raises(DriverError, match="TLS verification"):
            untrusting.read(1)
    finally:
        trusting.close()
        untrusting.close()
        controller.shutdown()
        controller.server_close()
        thread.join(5)


# -- webhook ---------------------------------------------------------------------------------


class App(ThreadingHTTPServer):
    """Plays the app's webhook route: hands headers and body to the driver."""

    daemon_threads = True

    def __init__(self, driver: HttpDriver) -> None:
        super().__init__(("127.0.0.1", 0), AppHandler)
        self.driver = driver


class AppHandler(BaseHTTPRequestHandler):
    server: App

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            self.server.driver.handle_webhook(dict(self.headers.items()), body)
            self.send_response(204)
        except SignatureError:
            self.send_response(401)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[DriverEvent]]]:
    driver = make_driver("http://127.0.0.1:9")
    received: list[DriverEvent] = []
    driver.subscribe(received.append)
    app = App(driver)
    thread = serve(app)
    try:
        yield f"http://127.0.0.1:{app.server_address[1]}/locker-events", received
    finally:
        app.shutdown()
        app.server_close()
        thread.join(5)


def post(url: str, key: bytes, body: bytes) -> tuple[requests.Response, dict[str, str]]:
    headers = Signer("b1", key, now).sign("evt", body).headers()
    return requests.post(url, data=body, headers=headers, timeout=3), headers


def test_a_signed_webhook_delivers_its_events_in_order(
    webhook: tuple[str, list[DriverEvent]],
) -> None:
    url, received = webhook
    at = now()
    body = encode_events(
        [DoorOpened("b1", 3, at), DoorClosed("b1", 3, at), CardRead("b1", "r", "2123", at)]
    )
    response, _ = post(url, KEYS["b1"], body)
    assert response.status_code == 204
    assert [type(e) for e in received] == [DoorOpened, DoorClosed, CardRead]


def test_a_forged_webhook_is_refused_and_delivers_nothing(
    webhook: tuple[str, list[DriverEvent]],
) -> None:
    url, received = webhook
    body = encode_events([DoorClosed("b1", 3, now())])
    response, _ = post(url, b"wrong-key-00000000000000000000000", body)
    assert response.status_code == 401 and received == []


def test_a_replayed_webhook_is_refused(webhook: tuple[str, list[DriverEvent]]) -> None:
    url, received = webhook
    body = encode_events([DoorClosed("b1", 3, now())])
    first, headers = post(url, KEYS["b1"], body)
    again = requests.post(url, data=body, headers=headers, timeout=3)
    assert (first.status_code, again.status_code) == (204, 401)
    assert len(received) == 1


def test_verify_webhook_refuses_another_banks_events() -> None:
    keys = {**KEYS, "b2": b"http-test-key-bank-2-0123456789"}
    body = encode_events([DoorClosed("b2", 3, now())])
    headers = Signer("b2", keys["b2"], now).sign("evt", body).headers()
    verifier = Verifier(keys, now)
    with pytest.raises(ForgedMessage):
        verify_webhook(headers, body, verifier=verifier, bank_id="b1")
    fresh = Signer("b2", keys["b2"], now).sign("evt", body).headers()
    assert [e.bank_id for e in verify_webhook(fresh, body, verifier=verifier)] == ["b2"]
