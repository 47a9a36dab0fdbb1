"""The reference ACS over TCP: one thread accepts, one thread per connection.

Thin I/O around :class:`sip2.acs.engine.Engine`: bytes are split by :class:`sip2.framing.Framer`,
decoded leniently by :mod:`sip2.codec`, answered by the engine and encoded strictly. Faults from
:class:`sip2.acs.faults.Faults` are applied here. Frames are never logged: they carry PINs
(AD) and passwords (CO).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import TracebackType

from sip2.acs.behaviour import Behaviour
from sip2.acs.catalogue import Catalogue
from sip2.acs.catalogue_file import load_catalogue
from sip2.acs.engine import STATE_CHANGING, Engine, Session
from sip2.acs.faults import Faults
from sip2.acs.ledger import Ledger
from sip2.acs.modes import ITEM_REQUESTS, Modes
from sip2.codec import Decoded, Message, decode, encode
from sip2.errors import EncodeError, FrameError
from sip2.framing import Framer

log = logging.getLogger(__name__)

_POLL = 0.05  # seconds: how often blocked threads look at stop/down/idle


class ReferenceACS:
    """A SIP2 server that behaves like Koha (default), Evergreen or FOLIO.

    ``checksums``: None answers with AY/AZ exactly when the request carried them (what SCs
    expect), True always, False never.
    """

    def __init__(
        self,
        catalogue: Catalogue | str | Path,
        *,
        behaviour: str | Behaviour = "koha",
        host: str = "127.0.0.1",
        port: int = 0,
        checksums: bool | None = None,
        idle_timeout: float | None = None,
        latency: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        zone: tzinfo = UTC,
        modes: Modes | None = None,
    ) -> None:
        """Raises ValueError for an unknown behaviour, CatalogueError for a bad catalogue file.

        ``modes`` (:mod:`sip2.acs.modes`) imitates real servers' differences; its zone wins
        over ``zone``.
        """
        if not isinstance(catalogue, Catalogue):
            catalogue = load_catalogue(catalogue)
        self.modes = modes if modes is not None else Modes(zone=zone)
        self.engine = Engine(catalogue, behaviour, clock=clock, zone=self.modes.zone)
        workers = self.modes.workers
        self._workers = threading.BoundedSemaphore(workers) if workers else None
        self.checksums = checksums
        self.faults = Faults()
        self.faults.idle_timeout = idle_timeout
        self.faults.latency = latency
        self.faults._on_down = self._set_down
        self._host, self._port = host, port
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public surface

    @property
    def catalogue(self) -> Catalogue:
        return self.engine.catalogue

    @property
    def ledger(self) -> Ledger:
        return self.engine.ledger

    @property
    def logins(self) -> list[str]:
        """The user of every login accepted so far, in order."""
        with self.engine.lock:
            return list(self.engine.logins)

    @property
    def address(self) -> tuple[str, int]:
        return self._host, self._port

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def start(self) -> tuple[str, int]:
        """Bind and start serving; returns the bound (host, port). Raises OSError if bind fails."""
        self._stopping.clear()
        self._listen()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"acs-accept-{self._port}", daemon=True
        )
        self._accept_thread.start()
        log.info("reference ACS (%s) listening on %s:%d", self.engine.behaviour.name, *self.address)
        return self.address

    def stop(self) -> None:
        """Close the listener and every connection; wait for the threads to end."""
        self._stopping.set()
        self._close_listener()
        threads = self._close_connections()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        for thread in threads:
            thread.join(timeout=5)

    def go_down(self) -> None:
        """Like an ILS outage: stop listening and drop every connection (port is kept)."""
        self.faults.down = True

    def come_back(self) -> None:
        """Listen again on the same port. Raises OSError if the port was taken meanwhile."""
        self.faults.down = False

    def __enter__(self) -> ReferenceACS:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ listening

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
            sock.listen(32)
        except OSError:
            sock.close()
            raise
        sock.settimeout(_POLL)
        self._host, self._port = sock.getsockname()[:2]
        with self._lock:
            self._listener = sock

    def _close_listener(self) -> None:
        with self._lock:
            sock, self._listener = self._listener, None
        if sock is not None:
            # Linux: shutdown stops a listener at once; close alone waits for a blocked accept.
            _shut(sock)
            sock.close()

    def _close_connections(self) -> list[threading.Thread]:
        with self._lock:
            conns = dict(self._connections)
        for conn in conns:
            _shut(conn)
        return list(conns.values())

    def _set_down(self, down: bool) -> None:
        if down:
            self._close_listener()
            self._close_connections()
            log.info("reference ACS is down")
        elif self._listener is None and not self._stopping.is_set():
            self._listen()
            log.info("reference ACS is back on %s:%d", *self.address)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                time.sleep(_POLL)
                continue
            # A pre-forking server accepts only with a free worker; the kernel queues the rest.
            if self._workers is not None and not self._workers.acquire(timeout=_POLL):
                continue
            try:
                conn, _ = listener.accept()
            except OSError:  # TimeoutError, or the listener closed by go_down/stop
                self._free_worker()
                continue
            if self.faults.down or self._stopping.is_set():
                conn.close()
                self._free_worker()
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._connections[conn] = thread
            thread.start()

    # ------------------------------------------------------------------ one connection

    def _serve(self, conn: socket.socket) -> None:
        try:
            Connection(self, conn).run()
        except Exception:
            # A bug must cost one connection, never the server.
            log.exception("reference ACS connection failed")
        finally:
            with self._lock:
                self._connections.pop(conn, None)
            conn.close()
            self._free_worker()

    def _free_worker(self) -> None:
        if self._workers is not None:
            self._workers.release()


class Connection:
    def __init__(self, acs: ReferenceACS, conn: socket.socket) -> None:
        self.acs = acs
        self.conn = conn
        self.session = Session()
        self.framer = Framer()
        self.answered = 0

    def run(self) -> None:
        self.conn.settimeout(_POLL)
        last_heard = time.monotonic()
        faults = self.acs.faults
        while not self.acs._stopping.is_set():
            idle = faults.idle_timeout
            if idle is not None and time.monotonic() - last_heard > idle:
                log.info("closing a connection idle for more than %.1f s", idle)
                _shut(self.conn)
                return
            try:
                data = self.conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            last_heard = time.monotonic()
            try:
                frames = self.framer.feed(data)
            except FrameError:
                return  # too long without a CR: garbage, hang up
            for frame in frames:
                if not self._answer(frame):
                    _shut(self.conn)
                    return

    def _answer(self, frame: bytes) -> bool:
        """Answer one frame; False when the connection must close."""
        faults = self.acs.faults
        try:
            decoded = decode(frame)
        except FrameError:
            return self._send(Message("96"), None)
        if decoded.checksum_valid is False:
            return self._send(Message("96"), decoded)
        request = decoded.message
        modes = self.acs.modes
        if (
            modes.drop_on_unknown_item
            and request.command in ITEM_REQUESTS
            and self.session.account is not None
            and self.acs.catalogue.item(request.first("AB") or "") is None
        ):
            log.info("mode: closing the connection on an unknown barcode")
            return False
        request = modes.paged(request)
        outcome = self.acs.engine.handle(self.session, request, refuse_login=faults.refuse_logins)
        if outcome.reply is None:
            return not outcome.close
        reply = modes.rewrite(outcome.reply)
        if request.command in STATE_CHANGING and faults.take_dropped_reply():
            log.info("fault: dropping the reply to a %s after performing it", request.command)
            return False
        if faults.latency > 0:
            time.sleep(faults.latency)
        if not self._send(reply, decoded):
            return False
        self.answered += 1
        limit = faults.drop_connection_after
        return not outcome.close and (limit is None or self.answered < limit)

    def _send(self, reply: Message, request: Decoded | None) -> bool:
        checksums = self.acs.checksums
        if checksums is None:
            checksums = request is not None and request.checksum is not None
        sequence = request.sequence if request is not None and request.sequence is not None else 0
        try:
            data = encode(reply, sequence=sequence, error_detection=checksums)
        except EncodeError:
            # A request echoing something unencodable (a LF or 300 bytes in AA) gets 96.
            log.info("reply %s not encodable; answering 96", reply.command)
            data = encode(Message("96"), error_detection=checksums)
        faults = self.acs.faults
        if faults.corrupt_checksums and checksums:
            bad = (int(data[-5:-1], 16) + 1) & 0xFFFF
            data = data[:-5] + f"{bad:04X}".encode("ascii") + b"\r"
        if faults.line_ending == "\r\n":
            data += b"\n"
        try:
            self.conn.sendall(data)
        except OSError:
            return False
        return True


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
