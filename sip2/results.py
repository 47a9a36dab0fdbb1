"""Typed, frozen results of SIP2 replies: no "Y"/"N", no two-letter codes past this module.

Each ``from_message`` reads leniently: a missing or malformed field becomes None (or an empty
tuple), never an exception; what the codec had to repair is in ``problems``, and every variable
field as sent, vendor ones included, is in ``raw_fields``. Personal data (names, contact data)
and ``raw_fields`` are left out of ``repr`` so results can be logged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TypedDict

from sip2.codec import Decoded
from sip2.dates import parse_date

Fields = tuple[tuple[str, str], ...]


class CirculationStatus(enum.Enum):
    """18's circulation status (spec values 01-13); UNKNOWN for anything else."""

    UNKNOWN = 0
    OTHER = 1
    ON_ORDER = 2
    AVAILABLE = 3
    CHARGED = 4
    CHARGED_NOT_TO_BE_RECALLED = 5
    IN_PROCESS = 6
    RECALLED = 7
    WAITING_ON_HOLD_SHELF = 8
    WAITING_TO_BE_RESHELVED = 9
    IN_TRANSIT = 10
    CLAIMED_RETURNED = 11
    LOST = 12
    MISSING = 13

    @classmethod
    def parse(cls, text: str | None) -> CirculationStatus:
        try:
            return cls(int((text or "").strip()))
        except ValueError:
            return cls.UNKNOWN


class AlertType(enum.Enum):
    """10's CV (3M extension): why the checkin raised an alert."""

    UNKNOWN = "00"
    HOLD_HERE = "01"  # a hold waits at this location: capture it here
    HOLD_ELSEWHERE = "02"  # a hold waits at another location (CT): send it there
    ILL = "03"  # inter-library loan transit
    TRANSFER = "04"  # item belongs elsewhere (CT): transfer
    OTHER = "99"

    @classmethod
    def parse(cls, text: str | None) -> AlertType | None:
        if text is None or not text.strip():
            return None
        try:
            return cls(text.strip().zfill(2))
        except ValueError:
            return cls.OTHER


class PatronFlag(enum.Enum):
    """The 14 positions of the patron status field (Y = the condition applies)."""

    CHARGE_PRIVILEGES_DENIED = 0
    RENEWAL_PRIVILEGES_DENIED = 1
    RECALL_PRIVILEGES_DENIED = 2
    HOLD_PRIVILEGES_DENIED = 3
    CARD_REPORTED_LOST = 4
    TOO_MANY_ITEMS_CHARGED = 5
    TOO_MANY_ITEMS_OVERDUE = 6
    TOO_MANY_RENEWALS = 7
    TOO_MANY_CLAIMS_OF_ITEMS_RETURNED = 8
    TOO_MANY_ITEMS_LOST = 9
    EXCESSIVE_OUTSTANDING_FINES = 10
    EXCESSIVE_OUTSTANDING_FEES = 11
    RECALL_OVERDUE = 12
    TOO_MANY_ITEMS_BILLED = 13


class Summary(enum.Enum):
    """Which item list 63 asks for (one position of the 10-character summary)."""

    HOLD_ITEMS = 0
    OVERDUE_ITEMS = 1
    CHARGED_ITEMS = 2
    FINE_ITEMS = 3
    RECALL_ITEMS = 4
    UNAVAILABLE_HOLDS = 5

    def field(self) -> str:
        return "".join("Y" if i == self.value else " " for i in range(10))


# BX: the 16 positions name these requests, in this order (spec, 98 ACS status).
SUPPORTED_MESSAGE_ORDER: tuple[str, ...] = tuple(
    "23 11 09 01 99 97 93 63 35 37 17 19 25 15 29 65".split()  # noqa: SIM905 - reads as the spec
)


def _yes(text: str | None) -> bool | None:
    """Y/N (or 1/0) to bool; None when absent or anything else."""
    value = (text or "").strip().upper()
    if value in ("Y", "1"):
        return True
    if value in ("N", "0"):
        return False
    return None


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _decimal(text: str | None) -> Decimal | None:
    if text is None or not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


def _text(text: str | None) -> str | None:
    return text if text else None


def _flags(text: str | None) -> frozenset[PatronFlag]:
    value = text or ""
    return frozenset(f for f in PatronFlag if f.value < len(value) and value[f.value] == "Y")


@dataclass(frozen=True)
class _Common:
    screen_messages: tuple[str, ...]
    print_lines: tuple[str, ...]
    raw_fields: Fields = field(repr=False)
    problems: tuple[str, ...] = field(repr=False)


class _CommonKw(TypedDict):
    screen_messages: tuple[str, ...]
    print_lines: tuple[str, ...]
    raw_fields: Fields
    problems: tuple[str, ...]


class _PatronKw(_CommonKw):
    flags: frozenset[PatronFlag]
    language: str | None
    transaction_date: datetime | None
    institution_id: str | None
    patron_id: str | None
    personal_name: str | None
    valid_patron: bool | None
    pin_valid: bool | None
    currency: str | None
    fee_amount: Decimal | None


def _common(decoded: Decoded) -> _CommonKw:
    m = decoded.message
    return {
        "screen_messages": m.all("AF"),
        "print_lines": m.all("AG"),
        "raw_fields": m.fields,
        "problems": decoded.problems,
    }


@dataclass(frozen=True)
class LoginResult(_Common):
    ok: bool

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> LoginResult:
        return cls(ok=decoded.message.fixed_value("ok") == "1", **_common(decoded))


@dataclass(frozen=True)
class AcsStatus(_Common):
    online: bool | None
    checkin_ok: bool | None
    checkout_ok: bool | None
    renewal_policy: bool | None
    status_update_ok: bool | None
    offline_ok: bool | None
    timeout_period: int | None  # tenths of a second; 000 = no timeout, 999 = unknown
    retries_allowed: int | None  # 999 = unknown
    date_time_sync: datetime | None
    protocol_version: str | None  # as sent, e.g. "2.00" or "2.0E"
    institution_id: str | None
    library_name: str | None
    terminal_location: str | None
    supported_messages: frozenset[str] | None  # request command ids, None when BX not sent

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> AcsStatus:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        bx = f.get("BX")
        supported = (
            None
            if bx is None
            else frozenset(c for c, f in zip(SUPPORTED_MESSAGE_ORDER, bx, strict=False) if f == "Y")
        )
        return cls(
            online=_yes(x.get("online_status")),
            checkin_ok=_yes(x.get("checkin_ok")),
            checkout_ok=_yes(x.get("checkout_ok")),
            renewal_policy=_yes(x.get("acs_renewal_policy")),
            status_update_ok=_yes(x.get("status_update_ok")),
            offline_ok=_yes(x.get("offline_ok")),
            timeout_period=_int(x.get("timeout_period")),
            retries_allowed=_int(x.get("retries_allowed")),
            date_time_sync=parse_date(x.get("date_time_sync"), server_tz=server_tz),
            protocol_version=_text(x.get("protocol_version")),
            institution_id=f.get("AO"),
            library_name=f.get("AM"),
            terminal_location=f.get("AN"),
            supported_messages=supported,
            **_common(decoded),
        )


@dataclass(frozen=True)
class PatronStatus(_Common):
    """24 (patron status / block patron reply) and the base of 64."""

    flags: frozenset[PatronFlag]
    language: str | None
    transaction_date: datetime | None
    institution_id: str | None
    patron_id: str | None
    personal_name: str | None = field(repr=False)
    valid_patron: bool | None  # BL; None when not sent
    pin_valid: bool | None  # CQ; None when not sent (ACSs only send it when AD was sent)
    currency: str | None
    fee_amount: Decimal | None

    @staticmethod
    def _base(decoded: Decoded, server_tz: tzinfo) -> _PatronKw:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        return {
            "flags": _flags(x.get("patron_status")),
            "language": _text(x.get("language")),
            "transaction_date": parse_date(x.get("transaction_date"), server_tz=server_tz),
            "institution_id": f.get("AO"),
            "patron_id": f.get("AA"),
            "personal_name": f.get("AE"),
            "valid_patron": _yes(f.get("BL")),
            "pin_valid": _yes(f.get("CQ")),
            "currency": f.get("BH") or None,
            "fee_amount": _decimal(f.get("BV")),
            **_common(decoded),
        }

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> PatronStatus:
        return cls(**cls._base(decoded, server_tz))


@dataclass(frozen=True)
class PatronInformation(PatronStatus):
    """64: the patron, counts, limits and the item list asked for in the summary."""

    hold_items_count: int | None
    overdue_items_count: int | None
    charged_items_count: int | None
    fine_items_count: int | None
    recall_items_count: int | None
    unavailable_holds_count: int | None
    hold_items_limit: int | None
    overdue_items_limit: int | None
    charged_items_limit: int | None
    fee_limit: Decimal | None
    hold_items: tuple[str, ...]
    overdue_items: tuple[str, ...]
    charged_items: tuple[str, ...]
    fine_items: tuple[str, ...]
    recall_items: tuple[str, ...]
    unavailable_hold_items: tuple[str, ...]
    home_address: str | None = field(repr=False)
    email: str | None = field(repr=False)
    phone: str | None = field(repr=False)

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> PatronInformation:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        return cls(
            **cls._base(decoded, server_tz),
            hold_items_count=_int(x.get("hold_items_count")),
            overdue_items_count=_int(x.get("overdue_items_count")),
            charged_items_count=_int(x.get("charged_items_count")),
            fine_items_count=_int(x.get("fine_items_count")),
            recall_items_count=_int(x.get("recall_items_count")),
            unavailable_holds_count=_int(x.get("unavailable_holds_count")),
            hold_items_limit=_int(f.get("BZ")),
            overdue_items_limit=_int(f.get("CA")),
            charged_items_limit=_int(f.get("CB")),
            fee_limit=_decimal(f.get("CC")),
            hold_items=m.all("AS"),
            overdue_items=m.all("AT"),
            charged_items=m.all("AU"),
            fine_items=m.all("AV"),
            recall_items=m.all("BU"),
            unavailable_hold_items=m.all("CD"),
            home_address=f.get("BD"),
            email=f.get("BE"),
            phone=f.get("BF"),
        )


@dataclass(frozen=True)
class ItemInformation(_Common):
    """18: where an item is; ``hold_pickup_date`` (CM) is the hold-shelf expiry where sent."""

    circulation_status: CirculationStatus
    security_marker: int | None
    fee_type: int | None
    transaction_date: datetime | None
    item_id: str | None
    title: str | None
    hold_queue_length: int | None
    due_date: datetime | None
    recall_date: datetime | None
    hold_pickup_date: datetime | None
    owner: str | None
    currency: str | None
    fee_amount: Decimal | None
    media_type: str | None
    permanent_location: str | None
    current_location: str | None
    destination_location: str | None  # CT (extension): where the item travels to
    item_properties: str | None

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> ItemInformation:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        return cls(
            circulation_status=CirculationStatus.parse(x.get("circulation_status")),
            security_marker=_int(x.get("security_marker")),
            fee_type=_int(x.get("fee_type")),
            transaction_date=parse_date(x.get("transaction_date"), server_tz=server_tz),
            item_id=f.get("AB"),
            title=f.get("AJ") or None,
            hold_queue_length=_int(f.get("CF")),
            due_date=parse_date(f.get("AH"), server_tz=server_tz),
            recall_date=parse_date(f.get("CJ"), server_tz=server_tz),
            hold_pickup_date=parse_date(f.get("CM"), server_tz=server_tz),
            owner=f.get("BG") or None,
            currency=f.get("BH") or None,
            fee_amount=_decimal(f.get("BV")),
            media_type=f.get("CK") or None,
            permanent_location=f.get("AQ") or None,
            current_location=f.get("AP") or None,
            destination_location=f.get("CT") or None,
            item_properties=f.get("CH") or None,
            **_common(decoded),
        )


@dataclass(frozen=True)
class CheckoutResult(_Common):
    """12 (checkout) and 30 (renew) replies."""

    ok: bool
    renewal_ok: bool | None
    magnetic_media: bool | None  # None: unknown (U) or not sent
    desensitize: bool | None
    transaction_date: datetime | None
    institution_id: str | None
    patron_id: str | None
    item_id: str | None
    title: str | None
    due_date: datetime | None
    due_date_text: str | None  # as sent: some ACSs send free text the parser cannot read
    fee_type: int | None
    security_inhibit: bool | None
    currency: str | None
    fee_amount: Decimal | None
    media_type: str | None
    item_properties: str | None
    transaction_id: str | None

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> CheckoutResult:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        return cls(
            ok=x.get("ok") == "1",
            renewal_ok=_yes(x.get("renewal_ok")),
            magnetic_media=_yes(x.get("magnetic_media")),
            desensitize=_yes(x.get("desensitize")),
            transaction_date=parse_date(x.get("transaction_date"), server_tz=server_tz),
            institution_id=f.get("AO"),
            patron_id=f.get("AA"),
            item_id=f.get("AB"),
            title=f.get("AJ") or None,
            due_date=parse_date(f.get("AH"), server_tz=server_tz),
            due_date_text=f.get("AH") or None,
            fee_type=_int(f.get("BT")),
            security_inhibit=_yes(f.get("CI")),
            currency=f.get("BH") or None,
            fee_amount=_decimal(f.get("BV")),
            media_type=f.get("CK") or None,
            item_properties=f.get("CH") or None,
            transaction_id=f.get("BK") or None,
            **_common(decoded),
        )


RenewResult = CheckoutResult


@dataclass(frozen=True)
class CheckinResult(_Common):
    """10: ``alert_type`` (CV) and ``destination_location`` (CT) say where the item goes."""

    ok: bool
    resensitize: bool | None
    magnetic_media: bool | None
    alert: bool | None
    transaction_date: datetime | None
    institution_id: str | None
    item_id: str | None
    permanent_location: str | None
    title: str | None
    sort_bin: str | None
    patron_id: str | None
    media_type: str | None
    item_properties: str | None
    alert_type: AlertType | None  # None when CV was not sent
    destination_location: str | None  # CT
    hold_patron_id: str | None = field(repr=False)  # CY
    hold_patron_name: str | None = field(repr=False)  # DA: personal data, do not log

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> CheckinResult:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        return cls(
            ok=x.get("ok") == "1",
            resensitize=_yes(x.get("resensitize")),
            magnetic_media=_yes(x.get("magnetic_media")),
            alert=_yes(x.get("alert")),
            transaction_date=parse_date(x.get("transaction_date"), server_tz=server_tz),
            institution_id=f.get("AO"),
            item_id=f.get("AB"),
            permanent_location=f.get("AQ") or None,
            title=f.get("AJ") or None,
            sort_bin=f.get("CL") or None,
            patron_id=f.get("AA") or None,
            media_type=f.get("CK") or None,
            item_properties=f.get("CH") or None,
            alert_type=AlertType.parse(f.get("CV")),
            destination_location=f.get("CT") or None,
            hold_patron_id=f.get("CY") or None,
            hold_patron_name=f.get("DA") or None,
            **_common(decoded),
        )


@dataclass(frozen=True)
class EndSessionResult(_Common):
    ended: bool | None
    transaction_date: datetime | None
    institution_id: str | None
    patron_id: str | None

    @classmethod
    def from_decoded(cls, decoded: Decoded, *, server_tz: tzinfo = UTC) -> EndSessionResult:
        m = decoded.message
        f, x = m.firsts, dict(m.fixed)
        return cls(
            ended=_yes(x.get("end_session")),
            transaction_date=parse_date(x.get("transaction_date"), server_tz=server_tz),
            institution_id=f.get("AO"),
            patron_id=f.get("AA"),
            **_common(decoded),
        )
