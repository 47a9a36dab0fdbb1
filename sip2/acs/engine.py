"""The reference ACS's behaviour, sans I/O: one decoded request in, one reply out.

The engine owns the catalogue and the ledger and serialises every request under one lock, so a
threaded server can share it. Connection state (who logged in) lives in :class:`Session`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from sip2.acs import circulation, replies
from sip2.acs.behaviour import Behaviour, behaviour_named
from sip2.acs.catalogue import Account, Catalogue
from sip2.acs.ledger import Action, Ledger, LedgerEntry
from sip2.codec import Message
from sip2.dates import parse_date

# Requests that change the catalogue: a dropped reply leaves their outcome unknown to the SC.
STATE_CHANGING = frozenset({"09", "11", "29", "15"})


@dataclass
class Session:
    """One SC connection: the account it logged in with (None until a 93 succeeds)."""

    account: Account | None = None
    last_reply: Message | None = None


@dataclass(frozen=True)
class Outcome:
    """What the server should do: send ``reply`` (if any), then close if ``close``."""

    reply: Message | None
    close: bool = False


class Engine:
    def __init__(
        self,
        catalogue: Catalogue,
        behaviour: str | Behaviour = "koha",
        *,
        ledger: Ledger | None = None,
        clock: Callable[[], datetime] | None = None,
        zone: tzinfo = UTC,
    ) -> None:
        """``zone`` is the ACS's local time zone: SIP2 dates without a zone are read in it.

        Raises ValueError for an unknown behaviour name.
        """
        self.catalogue = catalogue
        self.behaviour = behaviour_named(behaviour)
        self.ledger = ledger if ledger is not None else Ledger()
        self.zone = zone
        self._clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        # The user of every accepted login (93), in order: what a client's session reuse costs.
        self.logins: list[str] = []

    def now(self) -> datetime:
        return self._clock().astimezone(self.zone)

    def handle(self, session: Session, request: Message, *, refuse_login: bool = False) -> Outcome:
        """Answer one request. ``refuse_login`` makes a 93 fail whatever its credentials."""
        with self.lock:
            outcome = self._dispatch(session, request, refuse_login)
        if outcome.reply is not None and outcome.reply.command != "96":
            session.last_reply = outcome.reply
        return outcome

    def _dispatch(self, session: Session, request: Message, refuse_login: bool) -> Outcome:
        now = self.now()
        command = request.command
        if command == "93":
            return Outcome(self._login(session, request, refuse_login, now))
        if command == "97":
            return Outcome(session.last_reply or replies.resend())
        if session.account is None:
            # Koha: the SIP server drops a connection whose first message is not a login.
            return Outcome(None, close=True)
        account = session.account
        handler = _HANDLERS.get(command)
        if handler is None:
            # No reply is defined for a request we do not support; 96 makes the SC notice.
            return Outcome(replies.resend())
        return Outcome(handler(self, account, request, now))

    def _login(self, session: Session, request: Message, refuse: bool, now: datetime) -> Message:
        account = self.catalogue.accounts.get(request.first("CN") or "")
        if refuse or account is None or account.password != (request.first("CO") or ""):
            session.account = None
            return replies.login(ok=False)
        session.account = account
        self.logins.append(account.user)
        return replies.login(ok=True)

    # ------------------------------------------------------------------ handlers

    def sc_status(self, account: Account, request: Message, now: datetime) -> Message:
        return replies.acs_status(self.catalogue, account, now, self.zone)

    def patron_information(self, account: Account, request: Message, now: datetime) -> Message:
        return replies.patron_information(self.catalogue, account, request, now, self.zone)

    def patron_status(self, account: Account, request: Message, now: datetime) -> Message:
        return replies.patron_status(self.catalogue, account, request, now, self.zone)

    def item_information(self, account: Account, request: Message, now: datetime) -> Message:
        return replies.item_information(
            self.catalogue, self.behaviour, account, request, now, self.zone
        )

    def end_session(self, account: Account, request: Message, now: datetime) -> Message:
        return replies.end_session(account, request, now, self.zone)

    def checkin(self, account: Account, request: Message, now: datetime) -> Message:
        barcode = request.first("AB") or ""
        if not account.checkin:
            refused = circulation.CheckinOutcome(
                ok=False, item=None, message="Checkin is not allowed from this account"
            )
            return replies.checkin(
                self.catalogue, self.behaviour, account, barcode, refused, now, self.zone
            )
        # Koha: an empty AP falls back to the SIP account's branch.
        location = request.first("AP") or account.location
        returned_text = request.fixed_value("return_date")
        returned = parse_date(returned_text, server_tz=self.zone) or now
        outcome = circulation.checkin(
            self.catalogue,
            self.behaviour,
            account,
            barcode,
            location=location,
            returned=returned,
            today=now.date(),
        )
        if outcome.item is not None:
            self.ledger.record(
                LedgerEntry(
                    Action.CHECKIN,
                    at=now,
                    account=account.user,
                    item=barcode,
                    patron=outcome.borrower,
                    location=location,
                    return_date=returned,
                    return_date_text=returned_text,
                    ok=outcome.ok,
                    loan_closed=outcome.loan_closed,
                    alert=outcome.routing.value,
                    destination=outcome.destination,
                    hold=outcome.hold.id if outcome.hold else None,
                    message=outcome.message,
                )
            )
        return replies.checkin(
            self.catalogue, self.behaviour, account, barcode, outcome, now, self.zone
        )

    def checkout(self, account: Account, request: Message, now: datetime) -> Message:
        # Koha, Evergreen: AD is not verified on 11; the SC must check the PIN with 63 first.
        patron_barcode = request.first("AA") or ""
        barcode = request.first("AB") or ""
        if not account.checkout:
            outcome = circulation.LoanOutcome(
                False, None, None, message="Checkout is not allowed from this account"
            )
        else:
            outcome = circulation.checkout(
                self.catalogue,
                patron_barcode,
                barcode,
                fee_acknowledged=request.first("BO") == "Y",
                no_block=request.fixed_value("no_block") == "Y",
                now=now,
            )
        self._record_loan(
            Action.CHECKOUT,
            account,
            patron_barcode,
            barcode,
            outcome,
            now,
            transaction_date=parse_date(
                request.fixed_value("transaction_date"), server_tz=self.zone
            ),
            no_block=request.fixed_value("no_block") == "Y",
        )
        return replies.loan(
            "12", self.catalogue, account, patron_barcode, barcode, outcome, now, self.zone
        )

    def renew(self, account: Account, request: Message, now: datetime) -> Message:
        patron_barcode = request.first("AA") or ""
        barcode = request.first("AB") or ""
        outcome = circulation.renew(self.catalogue, patron_barcode, barcode, now=now)
        self._record_loan(Action.RENEW, account, patron_barcode, barcode, outcome, now)
        return replies.loan(
            "30", self.catalogue, account, patron_barcode, barcode, outcome, now, self.zone
        )

    def _record_loan(
        self,
        action: Action,
        account: Account,
        patron: str,
        barcode: str,
        outcome: circulation.LoanOutcome,
        now: datetime,
        *,
        transaction_date: datetime | None = None,
        no_block: bool = False,
    ) -> None:
        if outcome.ok:
            if outcome.renewal:
                action = Action.RENEW
            filled = outcome.hold_filled.id if outcome.hold_filled else None
            entry = LedgerEntry(
                action,
                at=now,
                account=account.user,
                item=barcode,
                patron=patron,
                transaction_date=transaction_date,
                no_block=no_block,
            )
            self.ledger.record(replace(entry, hold=filled))

    def hold(self, account: Account, request: Message, now: datetime) -> Message:
        mode = request.fixed_value("hold_mode") or "+"
        patron = request.first("AA") or ""
        item, record = request.first("AB") or "", request.first("AJ") or ""
        if mode == "-":
            outcome = circulation.cancel_hold(
                self.catalogue, patron, item_barcode=item, record=record
            )
            action = Action.HOLD_CANCELLED
        else:
            expiry = parse_date(request.first("BW"), server_tz=self.zone)
            outcome = circulation.place_hold(
                self.catalogue,
                patron,
                item_barcode=item,
                record=record,
                pickup=request.first("BS") or account.location,
                expires=expiry.date() if expiry else None,
            )
            action = Action.HOLD_PLACED
        if outcome.ok and outcome.hold is not None:
            self.ledger.record(
                LedgerEntry(
                    action,
                    at=now,
                    account=account.user,
                    item=outcome.hold.item or outcome.hold.record or "",
                    patron=patron,
                    hold=outcome.hold.id,
                )
            )
        return replies.hold(self.catalogue, account, patron, outcome, now, self.zone)


_Handler = Callable[[Engine, Account, Message, datetime], Message]

_HANDLERS: dict[str, _Handler] = {
    "99": Engine.sc_status,
    "63": Engine.patron_information,
    "23": Engine.patron_status,
    "17": Engine.item_information,
    "35": Engine.end_session,
    "09": Engine.checkin,
    "11": Engine.checkout,
    "29": Engine.renew,
    "15": Engine.hold,
}
