"""One logged-in SIP2 connection: a :class:`Transport` driving a :class:`Session`.

Requests go out one at a time and wait for their reply within a deadline. What a lost
connection means is decided here by one fact, whether the request's final byte (the CR) was
handed to the kernel: before that the ACS cannot have acted, after it the outcome is unknown.
"""

from __future__ import annotations

import logging
import select
import ssl
import time
from collections.abc import Callable

from sip2.codec import Decoded, Message
from sip2.config import ServerConfig, SipAccount
from sip2.errors import IlsUnavailable, LoginRefused, ProtocolError
from sip2.results import LoginResult
from sip2.session import Reply, Session, SessionConfig, State
from sip2.transport import Transport, TransportError

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class ConnectionLost(Exception):
    """Internal: the connection died during a request; ``sent`` says if the request was out."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class Connection:
    """A transport and its session; used by one thread at a time (the pool hands it out)."""

    def __init__(
        self,
        transport: Transport,
        server: ServerConfig,
        account: SipAccount,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.transport = transport
        self.server = server
        self.account = account
        self.session = Session(
            SessionConfig(
                error_detection=server.error_detection,
                encoding=server.encoding,
                max_resends=server.max_resends,
                login_required=account.login,
            )
        )
        self._clock = clock
        self.last_used = clock()  # the last reply to a request of ours, heartbeats aside
        self.last_heartbeat = float("-inf")
        self.login_result: LoginResult | None = None
        self._poller: select.poll | None = None  # for alive(), registered once

    @classmethod
    def open(
        cls, server: ServerConfig, account: SipAccount, *, clock: Clock = time.monotonic
    ) -> Connection:
        """Connect and log in (93) when the account says so.

        Raises :class:`IlsUnavailable` when the ACS cannot be reached or drops us during login,
        :class:`LoginRefused` when it answers 94 with ok=0.
        """
        try:
            transport = Transport.open(
                server.host, server.port, connect_timeout=server.connect_timeout, tls=server.tls
            )
        except TransportError as exc:
            raise IlsUnavailable(str(exc)) from exc
        connection = cls(transport, server, account, clock=clock)
        if account.login:
            connection._login()
        return connection

    def _login(self) -> None:
        login = Message.build(
            "93",
            [
                ("CN", self.account.user),
                ("CO", self.account.password),
                ("CP", self.account.location),
            ],
            uid_algorithm="0",
            pwd_algorithm="0",  # noqa: S106 - "0" means "not encrypted", not a password
        )
        try:
            decoded = self.exchange(login, timeout=self.server.request_timeout)
        except ConnectionLost as exc:
            self.close()
            raise IlsUnavailable(f"login to {self.server.host} failed: {exc}") from exc
        except ProtocolError:
            self.close()
            raise
        self.login_result = LoginResult.from_decoded(decoded)
        if not self.login_result.ok:
            self.close()
            raise LoginRefused(
                f"{self.server.host}:{self.server.port} refused SIP login {self.account.user!r}"
            )

    @property
    def usable(self) -> bool:
        return self.session.state is State.LOGGED_IN

    def exchange(self, message: Message, *, timeout: float) -> Decoded:
        """Send ``message`` and return its reply, answering 96s and bad checksums on the way.

        Raises :class:`ConnectionLost` (with ``sent``) on EOF, reset or timeout, and
        :class:`ProtocolError` when the ACS's bytes make no sense; after either the connection
        is closed.
        """
        deadline = self._clock() + timeout
        data = self.session.send(message)
        try:
            self.transport.send(data, timeout=timeout)
        except TransportError as exc:
            self.close()
            raise ConnectionLost(str(exc), sent=False) from exc
        try:
            while True:
                chunk = self.transport.recv(timeout=deadline - self._clock())
                for event in self.session.receive(chunk):
                    if isinstance(event, Reply):
                        self.last_used = self._clock()
                        return event.decoded
                    log.info("sip2 resend: %s", event.reason)
                    self.transport.send(event.data, timeout=max(deadline - self._clock(), 0.001))
        except TransportError as exc:
            self.close()
            raise ConnectionLost(str(exc), sent=True) from exc
        except ProtocolError:
            self.close()
            raise

    def heartbeat(self) -> None:
        """Send 99 SC status so the ACS does not drop us as idle; raises like :meth:`exchange`.

        ``last_used`` keeps the time of the last real request, so a connection kept alive by
        heartbeats still counts as idle for the pool's idle-close.
        """
        used = self.last_used
        self.exchange(sc_status_message(), timeout=self.server.request_timeout)
        self.last_used = used
        self.last_heartbeat = self._clock()

    def alive(self) -> bool:
        """Whether an idle connection still looks open (no EOF or stray bytes waiting).

        An ACS that dropped us while idle would otherwise turn the next checkin's EOF into an
        unknown outcome, although the ACS never saw it.
        """
        if self.session.state is not State.LOGGED_IN:
            return False
        try:
            poller = self._poller
            if poller is None:
                poller = self._poller = select.poll()
                poller.register(self.transport.socket, select.POLLIN)
            if not poller.poll(0):
                return True
        except (OSError, ValueError):
            return False
        sock = self.transport.socket
        try:
            sock.settimeout(0)
            data = sock.recv(1)
        except (BlockingIOError, TimeoutError, ssl.SSLWantReadError):
            return True  # TLS: only a session ticket was waiting
        except OSError:
            return False
        log.info("sip2: idle connection got %s; dropping it", "bytes" if data else "EOF")
        return False  # EOF, or bytes nobody asked for: either way unusable

    def close(self) -> None:
        self.session.connection_lost()
        self.transport.close()


def sc_status_message() -> Message:
    """99 with status 0 (SC ok), print width 080, protocol 2.00."""
    return Message.build("99", status_code="0", max_print_width="080", protocol_version="2.00")
