"""The typed SIP2 client: one method per request, frozen results, errors by what to do next.

Retry rule, the one thing every caller relies on:

- nothing sent yet (connect failed, connection found dead before the request's last byte):
  retried once on a fresh connection, then :class:`IlsUnavailable`;
- read-only requests (93, 99, 63, 23, 17, 35) whose reply was lost: retried once on a fresh
  connection, then :class:`IlsUnavailable`;
- state-changing requests (09, 11, 29) whose reply was lost or unreadable:
  :class:`OutcomeUnknown` at once. Never a guessed success or failure: verify with 17 first.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from types import TracebackType
from typing import TypeVar

from sip2.codec import MAX_FIELD_BYTES, Decoded, Message, field_value_ok
from sip2.config import ServerConfig, SipAccount
from sip2.connection import ConnectionLost, _no_read, _same, sc_status_message
from sip2.dates import format_date
from sip2.errors import Fault, IlsUnavailable, OutcomeUnknown, ProtocolError, SipError
from sip2.pool import DEFAULT_MAX_CONNECTIONS, SipPool
from sip2.results import (
    AcsStatus,
    CheckinResult,
    CheckoutResult,
    EndSessionResult,
    ItemInformation,
    LoginResult,
    PatronInformation,
    PatronStatus,
    RenewResult,
    Summary,
    read_checkin,
)

STATE_CHANGING = frozenset({"09", "11", "29", "15", "37", "19", "01", "25", "65"})
_NO_DATE = " " * 18
_new = object.__new__
_SURELY_FITS = MAX_FIELD_BYTES // 4  # characters: bytes even at 4 bytes a character

# Told of every request: its message name, seconds taken, and the error class name or None.
# Kept as a plain callable so sip2/ needs no metrics library.
Observer = Callable[[str, float, str | None], None]
_T = TypeVar("_T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


_CheckinReaders = tuple[
    ServerConfig,
    Callable[[bytes], CheckinResult | None],
    Callable[[Decoded], CheckinResult],
]


def _checkin_readers(server: ServerConfig) -> _CheckinReaders:
    """How 10 replies from ``server`` become results: the usual one read straight from its
    bytes (:func:`read_checkin`), anything else via decode() and ``from_decoded``."""
    tz = server.server_tz or UTC
    read = functools.partial(read_checkin, encoding=server.encoding, server_tz=tz)
    return server, read, functools.partial(CheckinResult.from_decoded, server_tz=tz)


class SipClient:
    """SIP2 requests for one SIP account over a shared :class:`SipPool`. Thread-safe."""

    def __init__(
        self,
        pool: SipPool,
        account: SipAccount,
        *,
        clock: Callable[[], datetime] = _utcnow,
        owns_pool: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self.pool = pool
        self.account = account
        self._clock = clock
        self._owns_pool = owns_pool
        self._observer = observer
        # Per AP location: checkin's variable part around AB, checked once (None: it fails
        # encode()'s checks, so requests take the generic path and get its EncodeError).
        self._checkin_layouts: dict[str, tuple[str, str] | None] = {}
        # For the pool's ServerConfig (its zone and encoding): how a 10 reply becomes a
        # CheckinResult, straight from its bytes or via decode() (see _checkin_readers).
        self._checkin_readers: _CheckinReaders | None = None

    @classmethod
    def for_server(
        cls,
        server: ServerConfig,
        account: SipAccount,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> SipClient:
        """A client with its own pool (closed by :meth:`close`). Connects on first use."""
        pool = SipPool(server, max_connections=max_connections)
        return cls(pool, account, clock=clock, owns_pool=True)

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> SipClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    @property
    def _server(self) -> ServerConfig:
        return self.pool.server

    @property
    def _tz(self) -> tzinfo:
        return self._server.server_tz or UTC

    def _now(self) -> str:
        return format_date(self._clock(), server_tz=self._server.send_tz)

    def _request(self, message: Message, text: str | None = None) -> Decoded:
        """Send ``message`` and return its reply, following the module's retry rule.

        ``text``: ``message`` laid out and checked already (see :meth:`Session.send`).
        """
        return self._request_as(message, _no_read, _same, text)

    def _request_as(
        self,
        message: Message,
        read: Callable[[bytes], _T | None],
        convert: Callable[[Decoded], _T],
        text: str | None = None,
    ) -> _T:
        """:meth:`_request`, the reply made into a result (see :meth:`Connection.exchange_as`)."""
        observer = self._observer
        start = 0.0 if observer is None else time.perf_counter()
        changes_state = message.command in STATE_CHANGING
        lost: ConnectionLost | None = None
        pool = self.pool
        timeout = pool.server.request_timeout
        try:
            for _attempt in range(2):
                try:
                    # acquire/release rather than pool.connection(): no generator per request.
                    conn = pool.acquire(self.account)
                    try:
                        reply = conn.exchange_as(message, read, convert, timeout=timeout, text=text)
                    finally:
                        pool.release(conn)
                    break
                except ConnectionLost as exc:
                    if exc.sent and changes_state:
                        raise OutcomeUnknown(
                            f"{message.spec.name} sent to {self._server.host} but no reply came:"
                            f" {exc}",
                            command=message.command,
                        ) from exc
                    lost = exc
                except ProtocolError as exc:
                    if changes_state and exc.fault is Fault.PEER:
                        raise OutcomeUnknown(
                            f"{message.spec.name} sent but the reply was unreadable: {exc}",
                            command=message.command,
                        ) from exc
                    raise
            else:
                raise IlsUnavailable(f"{self._server.host}:{self._server.port}: {lost}") from lost
        except SipError as exc:
            if observer is not None:
                observer(message.spec.name, time.perf_counter() - start, type(exc).__name__)
            raise
        if observer is not None:
            observer(message.spec.name, time.perf_counter() - start, None)
        return reply

    def _base(self, *extra: tuple[str, str | None]) -> list[tuple[str, str | None]]:
        return [("AO", self.account.institution), *extra]

    # ------------------------------------------------------------------ requests

    def login(self) -> LoginResult:
        """Make sure a logged-in connection exists (93 → 94).

        Raises :class:`LoginRefused` for a wrong account, :class:`IlsUnavailable` when down.
        """
        with self.pool.connection(self.account) as conn:
            if conn.login_result is not None:
                return conn.login_result
        return LoginResult(screen_messages=(), print_lines=(), raw_fields=(), problems=(), ok=True)

    def sc_status(self) -> AcsStatus:
        """99 → 98: is the ACS online, may we check in/out, which messages it supports."""
        decoded = self._request(sc_status_message())
        return AcsStatus.from_decoded(decoded, server_tz=self._tz)

    def patron_information(
        self,
        patron: str,
        *,
        pin: str | None = None,
        summary: Summary | None = None,
        start_item: int | None = None,
        end_item: int | None = None,
    ) -> PatronInformation:
        """63 → 64. With ``pin`` the result's ``pin_valid`` says if it was right (CQ)."""
        message = Message.build(
            "63",
            self._base(
                ("AA", patron),
                ("AC", self.account.terminal_password),
                ("AD", pin),
                ("BP", None if start_item is None else str(start_item)),
                ("BQ", None if end_item is None else str(end_item)),
            ),
            language="000",
            transaction_date=self._now(),
            summary=summary.field() if summary else " " * 10,
        )
        result = PatronInformation.from_decoded(self._request(message), server_tz=self._tz)
        return result if pin is not None else dataclasses.replace(result, pin_valid=None)

    def patron_status(self, patron: str, *, pin: str | None = None) -> PatronStatus:
        """23 → 24: a cheaper validity check (AD is required by the spec; empty without a PIN)."""
        message = Message.build(
            "23",
            self._base(("AA", patron), ("AC", self.account.terminal_password), ("AD", pin or "")),
            language="000",
            transaction_date=self._now(),
        )
        result = PatronStatus.from_decoded(self._request(message), server_tz=self._tz)
        return result if pin is not None else dataclasses.replace(result, pin_valid=None)

    def item_information(self, item: str) -> ItemInformation:
        """17 → 18: circulation status, CT destination and CM hold-shelf expiry."""
        message = Message.build(
            "17",
            self._base(("AB", item), ("AC", self.account.terminal_password)),
            transaction_date=self._now(),
        )
        return ItemInformation.from_decoded(self._request(message), server_tz=self._tz)

    def checkout(
        self,
        patron: str,
        item: str,
        *,
        pin: str | None = None,
        fee_acknowledged: bool = False,
        no_block: bool = False,
    ) -> CheckoutResult:
        """11 → 12. Raises :class:`OutcomeUnknown` when the reply is lost: check with 17."""
        message = Message.build(
            "11",
            self._base(
                ("AA", patron),
                ("AB", item),
                ("AC", self.account.terminal_password),
                ("AD", pin),
                ("BO", _yn(fee_acknowledged)),
            ),
            sc_renewal_policy="N",
            no_block=_yn(no_block),
            transaction_date=self._now(),
            nb_due_date=_NO_DATE,
        )
        return CheckoutResult.from_decoded(self._request(message), server_tz=self._tz)

    def checkin(
        self,
        item: str,
        *,
        location: str,
        returned_at: datetime,
        no_block: bool = False,
    ) -> CheckinResult:
        """09 → 10 at ``location`` (AP: the locker bank's branch), backdated to ``returned_at``.

        Raises :class:`OutcomeUnknown` when the reply is lost: check with 17 before repeating.
        """
        server = self.pool.server
        server_tz = server.send_tz
        block = "Y" if no_block else "N"
        now = format_date(self._clock(), server_tz=server_tz)
        returned = format_date(returned_at, server_tz=server_tz)
        # Built directly in spec order (the busiest request).
        # Message(...) without its __init__ call.
        message = _new(Message)
        message.__dict__.update(
            command="09",
            fixed=(("no_block", block), ("transaction_date", now), ("return_date", returned)),
            fields=(
                ("AP", location),
                ("AO", self.account.institution),
                ("AB", item),
                ("AC", self.account.terminal_password),
            ),
        )
        # Laid out here when encode() would accept it anyway: the fixed part is ours (Y/N and
        # two formatted dates), the fields around AB were checked once for this location.
        try:
            layout = self._checkin_layouts[location]
        except KeyError:
            layout = self._checkin_layout(location)
        text = None
        # An alphanumeric barcode this short passes field_value_ok() for sure (no regex).
        if layout is not None and (
            (item.isalnum() and len(item) <= _SURELY_FITS) or field_value_ok(item)
        ):
            text = f"09{block}{now}{returned}{layout[0]}{item}{layout[1]}"
        readers = self._checkin_readers
        if readers is None or readers[0] is not server:
            readers = self._checkin_readers = _checkin_readers(server)
        return self._request_as(message, readers[1], readers[2], text)

    def _checkin_layout(self, location: str) -> tuple[str, str] | None:
        institution, password = self.account.institution, self.account.terminal_password
        layout = None
        if field_value_ok(location) and field_value_ok(institution) and field_value_ok(password):
            layout = (f"AP{location}|AO{institution}|AB", f"|AC{password}|")
        self._checkin_layouts[location] = layout
        return layout

    def renew(
        self,
        patron: str,
        item: str,
        *,
        pin: str | None = None,
        fee_acknowledged: bool = False,
        no_block: bool = False,
    ) -> RenewResult:
        """29 → 30. Raises :class:`OutcomeUnknown` when the reply is lost."""
        message = Message.build(
            "29",
            self._base(
                ("AA", patron),
                ("AD", pin),
                ("AB", item),
                ("AC", self.account.terminal_password),
                ("BO", _yn(fee_acknowledged)),
            ),
            third_party_allowed="N",
            no_block=_yn(no_block),
            transaction_date=self._now(),
            nb_due_date=_NO_DATE,
        )
        return RenewResult.from_decoded(self._request(message), server_tz=self._tz)

    def end_patron_session(self, patron: str, *, pin: str | None = None) -> EndSessionResult:
        """35 → 36."""
        message = Message.build(
            "35",
            self._base(("AA", patron), ("AC", self.account.terminal_password), ("AD", pin)),
            transaction_date=self._now(),
        )
        return EndSessionResult.from_decoded(self._request(message), server_tz=self._tz)
