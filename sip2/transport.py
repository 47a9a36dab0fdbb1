"""A thin blocking TCP (optionally TLS) transport with timeouts always on.

It only moves bytes. Its own two errors say *what* happened (closed / timed out); the
connection layer decides what that means for the caller (unavailable vs outcome unknown).
SIP2 has no encryption of its own: TLS here is for stunnel or a TLS-capable ACS.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass

DEFAULT_CONNECT_TIMEOUT = 5.0


class TransportError(Exception):
    """The connection failed; ``sent`` is filled in by the caller that knows."""


class TransportClosed(TransportError):
    """EOF, reset or any socket error: the connection is gone."""


class TransportTimeout(TransportError):
    """No bytes arrived (or could be written) within the timeout."""


@dataclass(frozen=True)
class TlsConfig:
    """TLS settings. ``ca_file`` None means the system's CA store."""

    ca_file: str | None = None
    cert_file: str | None = None  # client certificate, for ACSs that ask for one
    key_file: str | None = None
    server_hostname: str | None = None  # defaults to the host connected to
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


class Transport:
    """One open TCP/TLS connection. Use :meth:`open`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        tls: TlsConfig | None = None,
    ) -> Transport:
        """Connect (and handshake) within ``connect_timeout``.

        Raises :class:`TransportTimeout` or :class:`TransportClosed` (refused, unreachable,
        TLS handshake or certificate failure).
        """
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except TimeoutError as exc:
            raise TransportTimeout(f"connect to {host}:{port} timed out") from exc
        except OSError as exc:
            raise TransportClosed(f"connect to {host}:{port} failed: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            try:
                sock = tls.context().wrap_socket(sock, server_hostname=tls.server_hostname or host)
            except TimeoutError as exc:
                sock.close()
                raise TransportTimeout(f"TLS handshake with {host}:{port} timed out") from exc
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise TransportClosed(f"TLS with {host}:{port} failed: {exc}") from exc
        return cls(sock)

    @property
    def socket(self) -> socket.socket:
        return self._sock

    def send(self, data: bytes, *, timeout: float) -> None:
        """Write all of ``data`` within ``timeout`` seconds."""
        try:
            self._sock.settimeout(max(timeout, 0.001))
            self._sock.sendall(data)
        except TimeoutError as exc:
            raise TransportTimeout("write timed out") from exc
        except OSError as exc:
            raise TransportClosed(f"write failed: {exc}") from exc

    def recv(self, *, timeout: float) -> bytes:
        """Read what has arrived (at least one byte) within ``timeout`` seconds.

        Raises :class:`TransportClosed` on EOF or error, :class:`TransportTimeout` on timeout.
        """
        if timeout <= 0:
            raise TransportTimeout("read timed out")
        try:
            self._sock.settimeout(timeout)
            data = self._sock.recv(65536)
        except TimeoutError as exc:
            raise TransportTimeout("read timed out") from exc
        except OSError as exc:
            raise TransportClosed(f"read failed: {exc}") from exc
        if not data:
            raise TransportClosed("connection closed by the ACS")
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already gone; nothing left to release
            self._sock.close()
