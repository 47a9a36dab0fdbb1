"""The generic SIP2 adapter: :class:`sip2.client.SipClient` seen through an ILS profile.

One adapter per locker bank (one SIP account per bank, as Koha, Evergreen and FOLIO need);
``checkin(at=...)`` still sends the bank's branch as AP, which is what makes Koha and
Evergreen capture holds for it. SIP-shaped values end here: alert types become
:class:`CheckinKind`, Y/N become bools, patron status flags become plain-language reasons,
and the hold patron's name (DA, personal data) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from ils_adapters.base import (
    CheckinKind,
    CheckinOutcome,
    CheckoutKind,
    CheckoutOutcome,
    CirculationStatus,
    Contact,
    IlsHealth,
    IlsRejected,
    IlsUnavailable,
    ItemStatus,
    OutcomeUnknown,
    PatronCheck,
    ProfileMismatch,
)
from ils_adapters.profiles import GENERIC, HoldCountMeaning, IlsProfile
from sip2 import errors as sip
from sip2.client import SipClient
from sip2.results import AcsStatus, CheckinResult, ItemInformation, PatronFlag, Summary
from sip2.results import CirculationStatus as SipStatus
from sip2.transport import TransportClosed

# Charged items asked per 63 (BP..BQ): well inside a frame, one request for most patrons.
_LOAN_PAGE = 100
# Bounds the requests for one patron's loans, whatever a server answers.
_LOAN_PAGES_MAX = 50

# Patron status positions in plain words (SIP2 64/24 patron status), and which of them stop
# a checkout. Renewal, recall and hold privileges alone do not.
_FLAG_WORDS: dict[PatronFlag, str] = {
    PatronFlag.CHARGE_PRIVILEGES_DENIED: "borrowing is not allowed on this card",
    PatronFlag.RENEWAL_PRIVILEGES_DENIED: "renewals are not allowed on this card",
    PatronFlag.RECALL_PRIVILEGES_DENIED: "recalls are not allowed on this card",
    PatronFlag.HOLD_PRIVILEGES_DENIED: "holds are not allowed on this card",
    PatronFlag.CARD_REPORTED_LOST: "card reported lost",
    PatronFlag.TOO_MANY_ITEMS_CHARGED: "too many items checked out",
    PatronFlag.TOO_MANY_ITEMS_OVERDUE: "too many overdue items",
    PatronFlag.TOO_MANY_RENEWALS: "too many renewals",
    PatronFlag.TOO_MANY_CLAIMS_OF_ITEMS_RETURNED: "too many items claimed returned",
    PatronFlag.TOO_MANY_ITEMS_LOST: "too many lost items",
    PatronFlag.EXCESSIVE_OUTSTANDING_FINES: "fines over the limit",
    PatronFlag.EXCESSIVE_OUTSTANDING_FEES: "fees over the limit",
    PatronFlag.RECALL_OVERDUE: "a recalled item is overdue",
    PatronFlag.TOO_MANY_ITEMS_BILLED: "too many items billed",
}
_NOT_BLOCKING = {
    PatronFlag.RENEWAL_PRIVILEGES_DENIED,
    PatronFlag.RECALL_PRIVILEGES_DENIED,
    PatronFlag.HOLD_PRIVILEGES_DENIED,
}

# SIP2 2.00 language codes (fixed field of 24/64) to ISO 639-1.
_LANGUAGES = {
    "001": "en", "002": "fr", "003": "de", "004": "it", "005": "nl", "006": "sv",
    "007": "fi", "008": "es", "009": "da", "010": "pt", "011": "fr", "012": "no",
    "013": "he", "014": "ja", "015": "ru", "016": "ar", "017": "pl", "018": "el",
    "019": "zh", "020": "ko", "021": "es", "022": "ta", "023": "ms", "024": "en",
    "025": "is", "026": "nl", "027": "zh",
}  # fmt: skip

_STATUS = {
    SipStatus.UNKNOWN: CirculationStatus.UNKNOWN,
    SipStatus.OTHER: CirculationStatus.OTHER,
    SipStatus.ON_ORDER: CirculationStatus.ON_ORDER,
    SipStatus.AVAILABLE: CirculationStatus.AVAILABLE,
    SipStatus.CHARGED: CirculationStatus.CHARGED,
    SipStatus.CHARGED_NOT_TO_BE_RECALLED: CirculationStatus.CHARGED_NOT_TO_BE_RECALLED,
    SipStatus.IN_PROCESS: CirculationStatus.IN_PROCESS,
    SipStatus.RECALLED: CirculationStatus.RECALLED,
    SipStatus.WAITING_ON_HOLD_SHELF: CirculationStatus.WAITING_ON_HOLD_SHELF,
    SipStatus.WAITING_TO_BE_RESHELVED: CirculationStatus.WAITING_TO_RESHELVE,
    SipStatus.IN_TRANSIT: CirculationStatus.IN_TRANSIT,
    SipStatus.CLAIMED_RETURNED: CirculationStatus.CLAIMED_RETURNED,
    SipStatus.LOST: CirculationStatus.LOST,
    SipStatus.MISSING: CirculationStatus.MISSING,
}

_NEEDED_MESSAGES = {"09": "checkin", "11": "checkout", "17": "item information",
                    "63": "patron information"}  # fmt: skip


@contextmanager
def _translated() -> Iterator[None]:
    """sip2's errors to the adapter's, at the boundary."""
    try:
        yield
    except sip.LoginRefused as exc:
        # Nothing was done, so the work waits; the message tells staff what to fix.
        raise IlsUnavailable(f"SIP login refused, check the bank's SIP account: {exc}") from exc
    except sip.IlsUnavailable as exc:
        raise IlsUnavailable(str(exc)) from exc
    except sip.OutcomeUnknown as exc:
        raise OutcomeUnknown(str(exc)) from exc
    except sip.ProtocolError as exc:
        if exc.fault is sip.Fault.OURS:
            raise
        raise IlsUnavailable(f"unreadable SIP2 reply: {exc}") from exc


def _closed_by_server(exc: BaseException) -> bool:
    """The ACS closed the connection (EOF), as opposed to a timeout or a refused connect."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TransportClosed) and "closed by the ACS" in str(cause):
            return True
        cause = cause.__cause__
    return False


def status_warnings(status: AcsStatus) -> tuple[str, ...]:
    """The 98 flags that may matter to staff, in words. Real servers send N for policy
    reasons while circulating, so these are warnings beside "up", never "down"."""
    out = []
    if status.online is False:
        out.append("the ILS's status reply says it is offline (98 online status N)")
    if status.checkin_ok is False:
        out.append("the ILS's status reply says check-in is not allowed (98 checkin ok N)")
    if status.checkout_ok is False:
        out.append("the ILS's status reply says checkout is not allowed (98 checkout ok N)")
    return tuple(out)


def _screen(messages: tuple[str, ...]) -> str | None:
    text = " ".join(m.strip() for m in messages if m.strip())
    return text or None


def _known(info: ItemInformation) -> bool:
    # Koha and others answer an unknown barcode with status "other" and an empty title.
    return not (info.circulation_status in (SipStatus.OTHER, SipStatus.UNKNOWN) and not info.title)


class Sip2Adapter:
    """IlsAdapter over SIP2 for one locker bank's SIP account.

    ``contact_source`` (e.g. ``KohaRestClient.patron_contact``) is asked for patron contact
    data instead of SIP2 63, for ILSs whose SIP server leaves email or phone out.
    """

    def __init__(
        self,
        client: SipClient,
        profile: IlsProfile = GENERIC,
        *,
        contact_source: Callable[[str], Contact | None] | None = None,
    ) -> None:
        self.client = client
        self.profile = profile
        self._contact_source = contact_source

    # --- IlsAdapter -----------------------------------------------------------------------

    def ping(self) -> bool:
        return self.health().up

    def health(self) -> IlsHealth:
        """Login + 99: up when answered, whatever the 98 flags say (they become warnings).

        Down, each with its own message: no answer, a refused login, or an unreadable reply
        twice in a row (one is retried on a new connection: a single garbled frame happens).
        """
        server = self.client.pool.server
        where = f"{server.host}:{server.port}"
        for attempt in (1, 2):
            try:
                status = self.client.sc_status()
            except sip.LoginRefused as exc:
                user = self.client.account.user
                return IlsHealth(
                    False,
                    problem=f"SIP login refused for {user!r} at {where}: check the bank's "
                    f"SIP user and password ({exc})",
                )
            except (sip.IlsUnavailable, sip.OutcomeUnknown) as exc:
                return IlsHealth(False, problem=f"no answer from {where}: {exc}")
            except sip.ProtocolError as exc:
                if exc.fault is sip.Fault.OURS:
                    raise
                if attempt == 2:
                    return IlsHealth(
                        False,
                        problem=f"{where} answers with unreadable SIP2 (twice in a row): {exc}",
                    )
                continue
            return IlsHealth(True, warnings=status_warnings(status))
        raise AssertionError("unreachable")  # pragma: no cover

    def checkin(
        self, item: str, *, at: str, returned_at: datetime, replayed: bool = False
    ) -> CheckinOutcome:
        with _translated():
            result = self.client.checkin(
                item, location=at, returned_at=returned_at, no_block=replayed
            )
        kind = self._kind(result, at=at)
        if kind is None:
            kind = self._kind_after_refusal(item)
        outcome = CheckinOutcome(
            ok=result.ok,
            kind=kind,
            item=item,
            destination=result.destination_location,
            hold_patron=result.hold_patron_id if self.profile.sends_hold_patron else None,
            screen_message=_screen(result.screen_messages),
            hold_patron_name=(
                patron_name(result.hold_patron_name)
                if self.profile.sends_hold_patron_name
                else None
            ),
        )
        if kind is CheckinKind.HOLD_HERE and self.profile.sends_hold_shelf_expiry:
            outcome = self._with_shelf_expiry(outcome)
        return outcome

    def item_status(self, item: str) -> ItemStatus:
        try:
            with _translated():
                info = self.client.item_information(item)
        except IlsUnavailable as exc:
            if not _closed_by_server(exc) or not self.health().up:
                raise
            # Twice the connection closed on this barcode, yet the server answers: some SIP
            # servers' workers die on a barcode they do not know.
            return ItemStatus(
                item,
                known=False,
                status=CirculationStatus.UNKNOWN,
                screen_message="the ILS closed the connection when asked about this barcode",
            )
        if not _known(info):
            return ItemStatus(
                item,
                known=False,
                status=CirculationStatus.UNKNOWN,
                screen_message=_screen(info.screen_messages),
            )
        status = _STATUS[info.circulation_status]
        captured: bool | None = None
        if status is CirculationStatus.WAITING_ON_HOLD_SHELF:
            captured = True
        elif (
            self.profile.hold_count_meaning is HoldCountMeaning.CAPTURED_HOLD_FLAG
            and info.hold_queue_length is not None
        ):
            captured = info.hold_queue_length > 0
        return ItemStatus(
            item,
            known=True,
            status=status,
            title=info.title,
            location=info.current_location or info.permanent_location,
            destination=info.destination_location,
            hold_shelf_expires=info.hold_pickup_date,
            due=info.due_date,
            captured_hold=captured,
            screen_message=_screen(info.screen_messages),
            holds_queued=info.hold_queue_length
            if self.profile.hold_count_meaning is HoldCountMeaning.RECORD_HOLDS
            else None,
        )

    def verify_patron(self, patron: str, pin: str) -> PatronCheck:
        with _translated():
            info = self.client.patron_information(patron, pin=pin)
        known = info.valid_patron if info.valid_patron is not None else bool(info.personal_name)
        reasons = tuple(_FLAG_WORDS[f] for f in PatronFlag if f in info.flags)
        blocked = not known or any(f not in _NOT_BLOCKING for f in info.flags)
        language = _LANGUAGES.get(info.language or "")
        return PatronCheck(
            patron,
            known=known,
            pin_ok=info.pin_valid,
            blocked=blocked,
            block_reasons=reasons if known else ("card not recognised",),
            fines=info.fee_amount,
            language=language,
            contact=Contact(info.email, info.phone, language) if known else None,
            screen_message=_screen(info.screen_messages),
        )

    def checkout(
        self,
        patron: str,
        item: str,
        *,
        fee_acknowledged: bool = False,
        offline_at: datetime | None = None,
    ) -> CheckoutOutcome:
        with _translated():
            result = self.client.checkout(
                patron,
                item,
                fee_acknowledged=fee_acknowledged,
                no_block=offline_at is not None,
                transacted_at=offline_at,
            )
        if result.ok:
            kind = CheckoutKind.RENEWED if result.renewal_ok else CheckoutKind.LOANED
        elif result.fee_amount and result.fee_amount > 0 and not fee_acknowledged:
            kind = CheckoutKind.FEE_NEEDS_ACKNOWLEDGEMENT
        else:
            kind = CheckoutKind.REFUSED
        return CheckoutOutcome(
            ok=result.ok,
            kind=kind,
            item=item,
            patron=patron,
            due=result.due_date,
            fee=result.fee_amount,
            screen_message=_screen(result.screen_messages),
        )

    def loans_of(self, patron: str) -> tuple[str, ...]:
        """Read page by page (BP/BQ): a server that pages its lists sends only the first items
        to a 63 without a range, and the item looked for may be among the later ones."""
        loans: list[str] = []
        for _ in range(_LOAN_PAGES_MAX):
            start = len(loans) + 1
            with _translated():
                info = self.client.patron_information(
                    patron,
                    summary=Summary.CHARGED_ITEMS,
                    start_item=start,
                    end_item=start + _LOAN_PAGE - 1,
                )
            page = info.charged_items
            if not page or (loans and page[0] in loans):
                break  # the end, or a server that ignores BP and starts over
            loans.extend(page)
            total = info.charged_items_count
            if total is None and len(page) < _LOAN_PAGE:
                break  # without a count, a short page is the last one
            if total is not None and len(loans) >= total:
                break
        return tuple(loans)

    def patron_contact(self, patron: str) -> Contact | None:
        if self._contact_source is not None:
            return self._contact_source(patron)
        with _translated():
            info = self.client.patron_information(patron)
        if info.valid_patron is False or (info.valid_patron is None and not info.personal_name):
            return None
        return Contact(info.email, info.phone, _LANGUAGES.get(info.language or ""))

    # --- start-up check -------------------------------------------------------------------

    def check_profile(self, *, test_item: str | None = None) -> None:
        """Check the ACS against this adapter's profile before taking work.

        Reads 98 (and 18 for ``test_item``, an item the library set aside for this). Raises
        ProfileMismatch listing every contradiction in plain words, IlsUnavailable when the
        ACS cannot be reached.
        """
        problems: list[str] = []
        with _translated():
            status = self.client.sc_status()
        if status.online is False:
            problems.append("the ACS says it is offline (98 online status N)")
        if status.checkin_ok is False:
            problems.append("the SIP account may not check items in (98 checkin ok N)")
        if status.checkout_ok is False:
            problems.append("the SIP account may not check items out (98 checkout ok N)")
        version = status.protocol_version or ""
        if version and not version.startswith("2"):
            problems.append(f"the ACS speaks SIP {version}, not 2.00")
        if status.supported_messages is not None:
            problems += [
                f"the ACS does not support {name} ({code})"
                for code, name in _NEEDED_MESSAGES.items()
                if code not in status.supported_messages
            ]
        if test_item is not None:
            problems += self.test_item_problems(test_item)
        if problems:
            raise ProfileMismatch(tuple(f"{self.profile.name} profile: {p}" for p in problems))

    def test_item_problems(self, item: str) -> list[str]:
        """How item information (17) on ``item`` contradicts the profile, in plain words."""
        with _translated():
            info = self.client.item_information(item)
        if not _known(info):
            return [f"the test item {item} is not in the catalogue"]
        meaning, count = self.profile.hold_count_meaning, info.hold_queue_length
        if meaning is HoldCountMeaning.NOT_SENT and count is not None:
            return ["item information carries a hold count (CF) the profile does not expect"]
        if meaning is HoldCountMeaning.CAPTURED_HOLD_FLAG and count is not None and count > 1:
            return [f"the hold count (CF) is {count}, but the profile reads it as a 0/1 flag"]
        if meaning is not HoldCountMeaning.NOT_SENT and count is None:
            return ["item information lacks the hold count (CF) the profile relies on"]
        return []

    # --- mapping --------------------------------------------------------------------------

    def _kind(self, result: CheckinResult, *, at: str) -> CheckinKind | None:
        alert = result.alert_type.value if result.alert_type is not None else None
        kind = self.profile.kind_for_alert(alert)
        destination = result.destination_location
        if kind is None:
            if not result.ok:
                return None  # refused without saying why: find out with 17
            return CheckinKind.TRANSIT if destination and destination != at else CheckinKind.NO_HOLD
        if (
            kind is CheckinKind.HOLD_HERE
            and self.profile.destination_is_pickup_location
            and destination
            and destination != at
        ):
            # Evergreen: CV 01 can mean "the login's org unit", not this bank. CT decides.
            return CheckinKind.HOLD_ELSEWHERE
        return kind

    def _kind_after_refusal(self, item: str) -> CheckinKind:
        status = self.item_status(item)
        if not status.known:
            return CheckinKind.UNKNOWN_ITEM
        if not status.status.on_loan:
            # Koha's answer to a repeat check-in; the caller confirms with item_status.
            return CheckinKind.NOT_CHECKED_OUT
        return CheckinKind.REJECTED

    def _with_shelf_expiry(self, outcome: CheckinOutcome) -> CheckinOutcome:
        try:
            status = self.item_status(outcome.item)
        except (IlsUnavailable, IlsRejected):
            # The check-in itself succeeded; the expiry is fetched again when notifying.
            return outcome
        return replace(outcome, hold_expires=status.hold_shelf_expires)


def patron_name(raw: str | None) -> str | None:
    """The name part of a DA field: Koha adds " (email, phone)" by default, which we drop."""
    if not raw:
        return None
    name = raw.split("(", 1)[0].strip()
    return name[:120] or None
