"""One serial line (a local port or a serial-to-TCP converter): one request on the wire at a
time, replies read until a deadline, the adapter's echo told apart from the board's reply."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from lockers.drivers.serial.frames import ChangeReport, Codec, FrameError, Reply, Request

log = logging.getLogger(__name__)

try:  # a vanished USB adapter shows up as termios.error, which is not an OSError
    import termios

    PORT_ERRORS: tuple[type[Exception], ...] = (OSError, serial.SerialException, termios.error)
except ImportError:  # pragma: no cover - Windows
    PORT_ERRORS = (OSError, serial.SerialException)
OPEN_ERRORS: tuple[type[Exception], ...] = (*PORT_ERRORS, ValueError)  # ValueError: bad URL


class LineError(Exception):
    """The exchange failed; nothing is known about what the board did."""


class LineDown(LineError):
    """The port cannot be opened or stopped working (unplugged adapter, converter gone)."""


class NoReply(LineError):
    """The board did not answer in time."""


class BadReply(LineError):
    """Bytes came back but not a valid answer (checksum error, wrong board, wrong command)."""


@dataclass(frozen=True)
class LineSettings:
    url: str  # "/dev/ttyUSB0", "socket://10.0.0.7:4001", or "rfc2217://..."
    baud: int = 9600
    timeout: float = 0.3  # seconds a board has to answer one request
    echo: bool = False  # the half-duplex adapter hands back every byte it sends


def port_url(port: str) -> str:
    """``host:port`` (a serial-to-Ethernet converter) becomes pyserial's ``socket://`` URL."""
    if "://" in port or port.startswith("/") or port.upper().startswith("COM"):
        return port
    host, sep, number = port.rpartition(":")
    if sep and host and number.isdigit():
        return f"socket://{port}"
    return port


Opener = Callable[[LineSettings], Any]


def open_port(settings: LineSettings) -> Any:
    # Exclusive: a second process polling the same bus would garble both conversations; it
    # gets "cannot open" (ControllerOffline) instead.
    return serial.serial_for_url(
        port_url(settings.url),
        baudrate=settings.baud,
        timeout=0.02,
        write_timeout=1.0,
        exclusive=True,
    )


class Line:
    """Thread-safe: callers queue on a lock, so commands and polls never interleave."""

    def __init__(
        self,
        settings: LineSettings,
        codec: Codec,
        *,
        on_report: Callable[[ChangeReport], None] | None = None,
        opener: Opener = open_port,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.on_report = on_report
        self._opener = opener
        self._port: Any = None
        self._lock = threading.Lock()
        self._buffer = bytearray()

    def exchange(self, request: Request) -> Reply:
        """Send ``request`` and return the board's answer; raises a ``LineError``."""
        with self._lock:
            port = self._open()
            try:
                self._drain(port)
                port.write(request.frame)
                port.flush()
                return self._await(port, request)
            except PORT_ERRORS as exc:
                self._drop_port()
                raise LineDown(f"{self.settings.url}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._drop_port()

    # -- internals (lock held) -----------------------------------------------------------------

    def _open(self) -> Any:
        if self._port is None:
            try:
                self._port = self._opener(self.settings)
            except OPEN_ERRORS as exc:
                raise LineDown(f"cannot open {self.settings.url}: {exc}") from exc
            self._buffer.clear()
        return self._port

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except PORT_ERRORS:
                log.debug("closing %s failed", self.settings.url, exc_info=True)

    def _read(self, port: Any) -> bool:
        waiting = port.in_waiting
        chunk: bytes = port.read(waiting or 1)
        self._buffer += chunk
        return bool(chunk)

    def _drain(self, port: Any) -> None:
        """Leftovers from an earlier exchange are reports or noise, never this reply."""
        while port.in_waiting:
            self._read(port)
        while self._buffer:
            try:
                reply = self.codec.take_reply(None, self._buffer)
            except FrameError:
                continue
            if reply is None:
                break
            self._report(reply)
        self._buffer.clear()

    def _await(self, port: Any, request: Request) -> Reply:
        deadline = time.monotonic() + self.settings.timeout
        echo_pending = self.settings.echo
        bad: FrameError | None = None
        while True:
            if echo_pending and len(self._buffer) >= len(request.frame):
                # A half-duplex adapter returns what was just sent, byte for byte; some boards
                # answer with the very same bytes, so the first copy is always the echo.
                if self._buffer.startswith(request.frame):
                    del self._buffer[: len(request.frame)]
                echo_pending = False
            if not echo_pending and self._buffer:
                try:
                    reply = self.codec.take_reply(request, self._buffer)
                except FrameError as exc:
                    # Consumed by the codec; a late answer to an earlier request or a damaged
                    # frame may still be followed by the right one.
                    bad = exc
                    continue
                if isinstance(reply, ChangeReport):
                    self._report(reply)
                    continue
                if reply is not None:
                    return reply
            if time.monotonic() >= deadline:
                self._buffer.clear()
                if bad is not None:
                    raise BadReply(f"{self.settings.url}: {bad}")
                raise NoReply(f"board {request.board} on {self.settings.url} did not answer")
            self._read(port)

    def _report(self, reply: Reply) -> None:
        if isinstance(reply, ChangeReport) and self.on_report is not None:
            self.on_report(reply)
