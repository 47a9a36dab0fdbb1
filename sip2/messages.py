"""The SIP2 2.00 message table: command ids, fixed-field layouts and required fields.

Data only; :mod:`sip2.codec` applies it. Layouts follow the 3M "Standard Interchange Protocol
Version 2.00" specification (fixed fields in wire order, then the variable fields).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """What a fixed field may hold; the codec derives strict and lenient patterns from it."""

    YN = "YN"  # Y or N
    YNU = "YNU"  # Y, N or U (unknown)
    OK = "OK"  # 0 or 1
    STATUS = "STATUS"  # 99's status code 0/1/2
    HOLD_MODE = "HOLD_MODE"  # 15's + - *
    CHAR = "CHAR"  # any one character (the spec leaves some flags open)
    DATE = "DATE"  # YYYYMMDDZZZZHHMMSS
    DIGITS = "DIGITS"  # width digits
    COUNT = "COUNT"  # 4 digits, or 4 blanks for "unknown"
    FLAGS = "FLAGS"  # width characters each Y or blank (patron status, summary)
    VERSION = "VERSION"  # x.yy
    TEXT = "TEXT"  # width characters, anything but the field delimiter


@dataclass(frozen=True)
class FixedField:
    name: str
    width: int
    kind: Kind


@dataclass(frozen=True)
class MessageSpec:
    command: str
    name: str
    fixed: tuple[FixedField, ...]
    required: tuple[str, ...] = ()  # variable field codes the spec requires (they may be empty)
    reply: str | None = None  # command id of the reply (requests only)

    @property
    def fixed_width(self) -> int:
        return sum(f.width for f in self.fixed)


def _f(name: str, width: int, kind: Kind) -> FixedField:
    return FixedField(name, width, kind)


_DATE = _f("transaction_date", 18, Kind.DATE)
_LANG = _f("language", 3, Kind.DIGITS)
_PSTATUS = _f("patron_status", 14, Kind.FLAGS)

_SPECS: tuple[MessageSpec, ...] = (
    # Requests, SC -> ACS
    MessageSpec("23", "patron_status", (_LANG, _DATE), ("AO", "AA", "AC", "AD"), "24"),
    MessageSpec(
        "11",
        "checkout",
        (
            _f("sc_renewal_policy", 1, Kind.YN),
            _f("no_block", 1, Kind.YN),
            _DATE,
            _f("nb_due_date", 18, Kind.DATE),
        ),
        ("AO", "AA", "AB", "AC"),
        "12",
    ),
    MessageSpec(
        "09",
        "checkin",
        (_f("no_block", 1, Kind.YN), _DATE, _f("return_date", 18, Kind.DATE)),
        ("AP", "AO", "AB", "AC"),
        "10",
    ),
    MessageSpec(
        "01",
        "block_patron",
        (_f("card_retained", 1, Kind.YN), _DATE),
        ("AO", "AL", "AA", "AC"),
        "24",
    ),
    MessageSpec(
        "99",
        "sc_status",
        (
            _f("status_code", 1, Kind.STATUS),
            _f("max_print_width", 3, Kind.DIGITS),
            _f("protocol_version", 4, Kind.VERSION),
        ),
        (),
        "98",
    ),
    MessageSpec("97", "request_acs_resend", ()),
    MessageSpec(
        "93",
        "login",
        (_f("uid_algorithm", 1, Kind.CHAR), _f("pwd_algorithm", 1, Kind.CHAR)),
        ("CN", "CO"),
        "94",
    ),
    MessageSpec(
        "63",
        "patron_information",
        (_LANG, _DATE, _f("summary", 10, Kind.FLAGS)),
        ("AO", "AA"),
        "64",
    ),
    MessageSpec("35", "end_patron_session", (_DATE,), ("AO", "AA"), "36"),
    MessageSpec(
        "37",
        "fee_paid",
        (
            _DATE,
            _f("fee_type", 2, Kind.DIGITS),
            _f("payment_type", 2, Kind.DIGITS),
            _f("currency_type", 3, Kind.TEXT),
        ),
        ("BV", "AO", "AA"),
        "38",
    ),
    MessageSpec("17", "item_information", (_DATE,), ("AO", "AB"), "18"),
    MessageSpec("19", "item_status_update", (_DATE,), ("AO", "AB", "CH"), "20"),
    MessageSpec("25", "patron_enable", (_DATE,), ("AO", "AA"), "26"),
    MessageSpec("15", "hold", (_f("hold_mode", 1, Kind.HOLD_MODE), _DATE), ("AO", "AA"), "16"),
    MessageSpec(
        "29",
        "renew",
        (
            _f("third_party_allowed", 1, Kind.YN),
            _f("no_block", 1, Kind.YN),
            _DATE,
            _f("nb_due_date", 18, Kind.DATE),
        ),
        ("AO", "AA"),
        "30",
    ),
    MessageSpec("65", "renew_all", (_DATE,), ("AO", "AA"), "66"),
    # Replies, ACS -> SC
    MessageSpec("24", "patron_status_response", (_PSTATUS, _LANG, _DATE), ("AO", "AA", "AE")),
    MessageSpec(
        "12",
        "checkout_response",
        (
            _f("ok", 1, Kind.OK),
            _f("renewal_ok", 1, Kind.YN),
            _f("magnetic_media", 1, Kind.YNU),
            _f("desensitize", 1, Kind.YNU),
            _DATE,
        ),
        ("AO", "AA", "AB", "AJ", "AH"),
    ),
    MessageSpec(
        "10",
        "checkin_response",
        (
            _f("ok", 1, Kind.OK),
            _f("resensitize", 1, Kind.YN),
            _f("magnetic_media", 1, Kind.YNU),
            _f("alert", 1, Kind.YN),
            _DATE,
        ),
        ("AO", "AB", "AQ"),
    ),
    MessageSpec(
        "98",
        "acs_status",
        (
            _f("online_status", 1, Kind.YN),
            _f("checkin_ok", 1, Kind.YN),
            _f("checkout_ok", 1, Kind.YN),
            _f("acs_renewal_policy", 1, Kind.YN),
            _f("status_update_ok", 1, Kind.YN),
            _f("offline_ok", 1, Kind.YN),
            _f("timeout_period", 3, Kind.DIGITS),
            _f("retries_allowed", 3, Kind.DIGITS),
            _f("date_time_sync", 18, Kind.DATE),
            _f("protocol_version", 4, Kind.VERSION),
        ),
        ("AO", "BX"),
    ),
    MessageSpec("96", "request_sc_resend", ()),
    MessageSpec("94", "login_response", (_f("ok", 1, Kind.OK),)),
    MessageSpec(
        "64",
        "patron_information_response",
        (
            _PSTATUS,
            _LANG,
            _DATE,
            _f("hold_items_count", 4, Kind.COUNT),
            _f("overdue_items_count", 4, Kind.COUNT),
            _f("charged_items_count", 4, Kind.COUNT),
            _f("fine_items_count", 4, Kind.COUNT),
            _f("recall_items_count", 4, Kind.COUNT),
            _f("unavailable_holds_count", 4, Kind.COUNT),
        ),
        ("AO", "AA", "AE"),
    ),
    MessageSpec(
        "36",
        "end_session_response",
        (_f("end_session", 1, Kind.YN), _DATE),
        ("AO", "AA"),
    ),
    MessageSpec(
        "38",
        "fee_paid_response",
        (_f("payment_accepted", 1, Kind.YN), _DATE),
        ("AO", "AA"),
    ),
    MessageSpec(
        "18",
        "item_information_response",
        (
            _f("circulation_status", 2, Kind.DIGITS),
            _f("security_marker", 2, Kind.DIGITS),
            _f("fee_type", 2, Kind.DIGITS),
            _DATE,
        ),
        ("AB", "AJ"),
    ),
    MessageSpec(
        "20",
        "item_status_update_response",
        (_f("item_properties_ok", 1, Kind.OK), _DATE),
        ("AB",),
    ),
    MessageSpec(
        "26",
        "patron_enable_response",
        (_PSTATUS, _LANG, _DATE),
        ("AO", "AA", "AE"),
    ),
    MessageSpec(
        "16",
        "hold_response",
        (_f("ok", 1, Kind.OK), _f("available", 1, Kind.YN), _DATE),
        ("AO", "AA"),
    ),
    MessageSpec(
        "30",
        "renew_response",
        (
            _f("ok", 1, Kind.OK),
            _f("renewal_ok", 1, Kind.YN),
            _f("magnetic_media", 1, Kind.YNU),
            _f("desensitize", 1, Kind.YNU),
            _DATE,
        ),
        ("AO", "AA", "AB", "AJ", "AH"),
    ),
    MessageSpec(
        "66",
        "renew_all_response",
        (
            _f("ok", 1, Kind.OK),
            _f("renewed_count", 4, Kind.COUNT),
            _f("unrenewed_count", 4, Kind.COUNT),
            _DATE,
        ),
        ("AO",),
    ),
)

SPECS: dict[str, MessageSpec] = {s.command: s for s in _SPECS}
"""Every message SIP2 2.00 defines, by two-digit command id."""

REQUESTS: frozenset[str] = frozenset(s.command for s in _SPECS if s.reply is not None)
REPLIES: frozenset[str] = frozenset(s.command for s in _SPECS if s.reply is None) - {"97"}

# Variable field codes, for printing decoded frames. Codes past the 2.00 table (CQ and later)
# come from the 3M extensions that Koha, Evergreen and FOLIO all send.
FIELD_NAMES: dict[str, str] = {
    "AA": "patron_identifier",
    "AB": "item_identifier",
    "AC": "terminal_password",
    "AD": "patron_password",
    "AE": "personal_name",
    "AF": "screen_message",
    "AG": "print_line",
    "AH": "due_date",
    "AJ": "title_identifier",
    "AL": "blocked_card_message",
    "AM": "library_name",
    "AN": "terminal_location",
    "AO": "institution_id",
    "AP": "current_location",
    "AQ": "permanent_location",
    "AS": "hold_items",
    "AT": "overdue_items",
    "AU": "charged_items",
    "AV": "fine_items",
    "AY": "sequence_number",
    "AZ": "checksum",
    "BD": "home_address",
    "BE": "email_address",
    "BF": "home_phone_number",
    "BG": "owner",
    "BH": "currency_type",
    "BI": "cancel",
    "BK": "transaction_id",
    "BL": "valid_patron",
    "BM": "renewed_items",
    "BN": "unrenewed_items",
    "BO": "fee_acknowledged",
    "BP": "start_item",
    "BQ": "end_item",
    "BR": "queue_position",
    "BS": "pickup_location",
    "BT": "fee_type",
    "BU": "recall_items",
    "BV": "fee_amount",
    "BW": "expiration_date",
    "BX": "supported_messages",
    "BY": "hold_type",
    "BZ": "hold_items_limit",
    "CA": "overdue_items_limit",
    "CB": "charged_items_limit",
    "CC": "fee_limit",
    "CD": "unavailable_hold_items",
    "CF": "hold_queue_length",
    "CG": "fee_identifier",
    "CH": "item_properties",
    "CI": "security_inhibit",
    "CJ": "recall_date",
    "CK": "media_type",
    "CL": "sort_bin",
    "CM": "hold_pickup_date",
    "CN": "login_user_id",
    "CO": "login_password",
    "CP": "location_code",
    "CQ": "valid_patron_password",
    "CR": "collection_code",
    "CS": "call_number",
    "CT": "destination_location",
    "CV": "alert_type",
    "CY": "hold_patron_id",
    "DA": "hold_patron_name",
    "PB": "birth_date",
    "PC": "patron_class",
}
