"""Simulated locker banks behind real HTTP controllers, for the multi-process topology.

Each :class:`BankController` is a lock board as an HTTP controller vendor builds it: it answers
signed ``cmd/open`` and ``cmd/read`` calls from whichever web process opens a door, and posts
its events (door opened, door closed, occupancy), signed, to the app's webhook
``/api/v1/banks/<bank>/controller/events`` — which any web process may take. Events are posted
in order by one sender thread, the way a controller with one uplink does.
"""

from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from lockers.drivers.base import DriverEvent
from lockers.drivers.mqtt import execute_command
from lockers.drivers.simulated import SimTiming, SimulatedBank
from lockers.drivers.wire import Command, encode_events
from lockers.errors import SignatureError
from lockers.signing import Signer, Verifier


def _now() -> datetime:
    return datetime.now(UTC)


class _Board(ThreadingHTTPServer):
    daemon_threads = True
    controller: BankController


class _Handler(BaseHTTPRequestHandler):
    server: _Board

    def do_POST(self) -> None:
        board = self.server.controller
        body = self.rfile.read(int(self.headers["Content-Length"]))
        channel = self.path.lstrip("/")
        try:
            board.verifier.verify_headers(dict(self.headers.items()), body, channel)
        except SignatureError:
            board.rejected += 1
            self.send_response(401)
            self.end_headers()
            return
        ack = execute_command(board.sim, channel, Command.decode(body))
        reply = board.signer.sign("ack", ack.encode())
        self.send_response(200)
        for name, value in reply.headers().items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class BankController:
    def __init__(self, bank_id: str, doors: range, key: bytes) -> None:
        self.bank_id = bank_id
        self.sim = SimulatedBank(bank_id, doors, timing=SimTiming(open_delay=0.02, read_delay=0.0))
        self.signer = Signer(bank_id, key, _now)
        self.verifier = Verifier({bank_id: key}, _now)
        self.rejected = 0
        self.webhook: str | None = None
        self.delivered = 0
        self.failures: list[str] = []
        self._events: queue.Queue[DriverEvent | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self.sim.subscribe(self._queue)
        self._board = _Board(("127.0.0.1", 0), _Handler)
        self._board.controller = self
        self._threads = [
            threading.Thread(target=self._board.serve_forever, daemon=True),
            threading.Thread(target=self._send_loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._board.server_address[1]}"

    # -- the people at the bank ------------------------------------------------------------

    def load(self, door: int) -> None:
        """Staff put the item in the open door and shut it."""
        self._wait_open(door)
        self.sim.put_item(door)
        assert self.sim.close_door(door), f"door {door} of {self.bank_id} did not latch"

    def collect(self, door: int) -> None:
        """The patron takes everything out and shuts the door."""
        self._wait_open(door)
        while self.sim.items_in(door):
            self.sim.take_item(door)
        assert self.sim.close_door(door), f"door {door} of {self.bank_id} did not latch"

    def _wait_open(self, door: int) -> None:
        deadline = time.monotonic() + 10
        while not self.sim.is_open(door):
            assert time.monotonic() < deadline, f"door {door} of {self.bank_id} never opened"
            time.sleep(0.02)

    def settle(self, timeout: float = 30.0) -> None:
        """Waits until every event so far reached the app (or failed for good)."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._pending == 0, timeout), "events stuck"

    # -- uplink ----------------------------------------------------------------------------

    def _queue(self, event: DriverEvent) -> None:
        with self._idle:
            self._pending += 1
        self._events.put(event)

    def _send_loop(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            try:
                self._deliver(event)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, event: DriverEvent) -> None:
        # A web process killed mid-call answers nothing: the controller tries again, as a
        # real one does (the webhook is idempotent per signed message only, so it re-signs).
        for _attempt in range(20):
            if self.webhook is None:
                time.sleep(0.1)
                continue
            message = self.signer.sign("evt", encode_events([event]))
            try:
                response = requests.post(
                    self.webhook.format(bank=self.bank_id),
                    data=message.body,
                    headers={"Content-Type": "application/json", **message.headers()},
                    timeout=30,
                )
            except requests.RequestException as exc:
                self.failures.append(f"{type(event).__name__}: {exc}")
                time.sleep(0.3)
                continue
            if response.status_code == 200:
                self.delivered += 1
                return
            self.failures.append(f"{type(event).__name__}: HTTP {response.status_code}")
            time.sleep(0.3)

    def close(self) -> None:
        self._events.put(None)
        self._board.shutdown()
        self._board.server_close()
        for thread in self._threads:
            thread.join(5)
