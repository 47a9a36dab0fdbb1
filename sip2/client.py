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
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from types import TracebackType

from sip2.codec import Decoded, Message
from sip2.config import ServerConfig, SipAccount
from sip2.connection import ConnectionLost, sc_status_message
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
)

STATE_CHANGING = frozenset({"09", "11", "29", "15", "37", "19", "01", "25", "65"})
_NO_DATE = " " * 18

# Told of every request: its message name, seconds taken, and the error class name or None.
# Kept as a plain callable so sip2/ needs no metrics library.
Observer = Callable[[str, float, str | None], None]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


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
        return self._date(self._clock())

    def _date(self, moment: datetime) -> str:
        return format_date(moment, server_tz=self._server.send_tz)

    def _request(self, message: Message) -> Decoded:
        """Send ``message`` and return its reply, following the module's retry rule."""
        observer = self._observer
        start = time.perf_counter()
        changes_state = message.command in STATE_CHANGING
        lost: ConnectionLost | None = None
        timeout = self._server.request_timeout
        try:
            for _attempt in range(2):
                try:
                    with self.pool.connection(self.account) as conn:
                        reply = conn.exchange(message, timeout=timeout)
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
        transacted_at: datetime | None = None,
    ) -> CheckoutResult:
        """11 → 12. Raises :class:`OutcomeUnknown` when the reply is lost: check with 17.

        ``no_block`` with ``transacted_at`` is the store-and-forward form: a loan made while the
        ACS was unreachable, sent later with its original time as the transaction date.
        """
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
            transaction_date=self._now() if transacted_at is None else self._date(transacted_at),
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
        message = Message.build(
            "09",
            [
                ("AP", location),
                ("AO", self.account.institution),
                ("AB", item),
                ("AC", self.account.terminal_password),
            ],
            no_block=_yn(no_block),
            transaction_date=self._now(),
            return_date=self._date(returned_at),
        )
        return CheckinResult.from_decoded(self._request(message), server_tz=self._tz)

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
