"""A small scripted ACS over real TCP, for faults the reference ACS does not stage.

Each received frame goes to ``script(frame, connection_number)``, which returns the bytes to
answer, or one of the actions ``DROP`` (read it, answer nothing), ``CLOSE`` (close the socket
at once). Idle connections are closed after ``idle_timeout`` like Koha's SIP server does.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable

from sip2.codec import Message, decode, encode
from sip2.framing import Framer

DROP = b"<drop>"
CLOSE = b"<close>"

Script = Callable[[bytes, int], bytes]

DATE = "20240301    101500"


def canned_reply(frame: bytes) -> bytes:
    """A plausible reply to any request, echoing AY when the request had one."""
    decoded = decode(frame)
    command = decoded.message.command
    item = decoded.message.first("AB") or ""
    patron = decoded.message.first("AA") or ""
    replies = {
        "93": Message.build("94", ok="1"),
        "99": Message.build(
            "98",
            [("AO", "MAIN"), ("AM", "Main Library"), ("BX", "YYYYYYYYYYYYYYYY")],
            online_status="Y",
            checkin_ok="Y",
            checkout_ok="Y",
            acs_renewal_policy="Y",
            status_update_ok="N",
            offline_ok="N",
            timeout_period="030",
            retries_allowed="003",
            date_time_sync=DATE,
            protocol_version="2.00",
        ),
        "09": Message.build(
            "10",
            [("AO", "MAIN"), ("AB", item), ("AQ", "MAIN"), ("CV", "01"), ("CT", "LOCKER1")],
            ok="1",
            resensitize="N",
            magnetic_media="N",
            alert="Y",
            transaction_date=DATE,
        ),
        "17": Message.build(
            "18",
            [("AB", item), ("AJ", "A title"), ("CM", "20240310    235959")],
            circulation_status="08",
            security_marker="00",
            fee_type="01",
            transaction_date=DATE,
        ),
        "11": Message.build(
            "12",
            [("AO", "MAIN"), ("AA", patron), ("AB", item), ("AJ", "A title"), ("AH", DATE)],
            ok="1",
            renewal_ok="N",
            magnetic_media="N",
            desensitize="Y",
            transaction_date=DATE,
        ),
        "63": Message.build(
            "64",
            [("AO", "MAIN"), ("AA", patron), ("AE", "Pat Ron"), ("BL", "Y"), ("CQ", "Y")],
            patron_status=" " * 14,
            language="000",
            transaction_date=DATE,
            hold_items_count="0001",
            overdue_items_count="0000",
            charged_items_count="0000",
            fine_items_count="0000",
            recall_items_count="0000",
            unavailable_holds_count="0000",
        ),
    }
    reply = replies.get(command)
    if reply is None:
        return CLOSE
    return encode(reply, sequence=decoded.sequence, error_detection=decoded.sequence is not None)


def default_script(frame: bytes, connection: int) -> bytes:
    return canned_reply(frame)


class FakeAcs:
    """Listen on 127.0.0.1:<free port>; serve each connection on its own thread."""

    def __init__(
        self,
        script: Script = default_script,
        *,
        idle_timeout: float | None = None,
        port: int = 0,
        line_end: bytes = b"\r",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tls = tls
        self.script = script
        self.idle_timeout = idle_timeout
        self.line_end = line_end
        self.frames: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
                number = self.connections
                self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        if self.tls is not None:
            try:
                sock.settimeout(2)
                sock = self.tls.wrap_socket(sock, server_side=True)
            except OSError:
                sock.close()
                return
        framer = Framer()
        sock.settimeout(self.idle_timeout or 0.2)
        last = time.monotonic()
        with sock:
            while not self._stop.is_set():
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    if self.idle_timeout and time.monotonic() - last >= self.idle_timeout:
                        return  # Koha: idle connection dropped
                    continue
                except OSError:
                    return
                if not data:
                    return
                last = time.monotonic()
                for frame in framer.feed(data):
                    with self._lock:
                        self.frames.append(frame)
                    answer = self.script(frame, number)
                    if answer == CLOSE:
                        return
                    if answer == DROP:
                        continue
                    with contextlib.suppress(OSError):
                        sock.sendall(answer.replace(b"\r", self.line_end))

    def commands(self) -> list[str]:
        with self._lock:
            return [f[:2].decode() for f in self.frames]

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
        self._thread.join(timeout=2)
