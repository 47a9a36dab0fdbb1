"""SIP2 replies of the reference ACS, built from catalogue records and circulation outcomes.

This is the only module of the ACS that knows field codes of replies. Field choices follow
the SIP2 2.00 spec plus the extensions Koha sends (CQ, CT, CV, CY, DA, PC).
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from sip2.acs.behaviour import Behaviour, HoldQueueCount
from sip2.acs.catalogue import Account, Catalogue, HoldState, Item, ItemStatus, Patron
from sip2.acs.circulation import CheckinOutcome, HoldOutcome, LoanOutcome
from sip2.codec import Message
from sip2.dates import format_date

# SIP2 circulation status (18) per item status.
CIRCULATION_STATUS: dict[ItemStatus, str] = {
    ItemStatus.AVAILABLE: "03",
    ItemStatus.CHARGED: "04",
    ItemStatus.ON_HOLD_SHELF: "08",
    ItemStatus.IN_TRANSIT: "10",
    ItemStatus.LOST: "12",
    ItemStatus.MISSING: "13",
}

# SIP2 media type (CK); DVDs have no code of their own, the nearest is 006 CD/CDROM.
MEDIA_TYPE: dict[str, str] = {"book": "001", "magazine": "002", "dvd": "006", "cd": "006"}

# SIP2 language codes (fixed field of 24/64).
LANGUAGE: dict[str, str] = {
    "en": "001",
    "fr": "002",
    "de": "003",
    "it": "004",
    "nl": "005",
    "sv": "006",
    "fi": "007",
    "es": "008",
    "da": "009",
    "pt": "010",
}

FEE_RENTAL = "06"
SUPPORTED = "YYYNYYYYYNYNNYYN"  # 98 BX: the 16 message families in spec order


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _ok(flag: bool) -> str:
    return "1" if flag else "0"


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def resend() -> Message:
    return Message("96")


def login(*, ok: bool) -> Message:
    return Message.build("94", ok=_ok(ok))


def acs_status(cat: Catalogue, account: Account, now: datetime, zone: tzinfo) -> Message:
    return Message.build(
        "98",
        [
            ("AO", account.institution),
            ("AM", cat.library_name),
            ("BX", SUPPORTED),
            ("AN", account.location),
        ],
        online_status="Y",
        checkin_ok=_yn(account.checkin),
        checkout_ok=_yn(account.checkout),
        acs_renewal_policy="Y",
        status_update_ok="N",
        offline_ok="N",
        timeout_period="030",
        retries_allowed="003",
        date_time_sync=format_date(now, server_tz=zone),
        protocol_version="2.00",
    )


def patron_flags(cat: Catalogue, patron: Patron | None) -> str:
    """The 14-character patron status: Y where a privilege is denied."""
    flags = [" "] * 14
    if patron is None or patron.blocked:
        flags[0:4] = ["Y"] * 4  # charge, renewal, recall, hold privileges denied
    if patron is not None and patron.fines > cat.fine_limit:
        flags[0] = "Y"
        flags[10] = "Y"  # excessive outstanding fines
    return "".join(flags)


def _pin_check(request: Message, patron: Patron | None) -> str | None:
    """CQ only when the SC sent AD (Koha, Evergreen); never log either value."""
    pin = request.first("AD")
    if pin is None:
        return None
    return _yn(patron is not None and pin == patron.pin)


def _screen(cat: Catalogue, patron: Patron | None) -> str | None:
    if patron is None:
        return "Invalid patron barcode"
    if patron.blocked:
        return "Patron is blocked: please see staff"
    if patron.fines > cat.fine_limit:
        return f"Patron owes {patron.fines} {cat.currency}: fines over the limit"
    return None


def _patron_head(
    cat: Catalogue, account: Account, request: Message
) -> list[tuple[str, str | None]]:
    barcode = request.first("AA") or ""
    patron = cat.patron(barcode)
    return [
        ("AO", account.institution),
        ("AA", barcode),
        ("AE", patron.full_name if patron else ""),
        ("BL", _yn(patron is not None)),
        ("CQ", _pin_check(request, patron)),
    ]


def patron_status(
    cat: Catalogue, account: Account, request: Message, now: datetime, zone: tzinfo
) -> Message:
    patron = cat.patron(request.first("AA") or "")
    fields = _patron_head(cat, account, request)
    if patron is not None:
        fields += [("BH", cat.currency), ("BV", _money(patron.fines))]
    fields.append(("AF", _screen(cat, patron)))
    return Message.build(
        "24",
        fields,
        patron_status=patron_flags(cat, patron),
        language=LANGUAGE.get(patron.language, "000") if patron else "000",
        transaction_date=format_date(now, server_tz=zone),
    )


def patron_information(
    cat: Catalogue, account: Account, request: Message, now: datetime, zone: tzinfo
) -> Message:
    patron = cat.patron(request.first("AA") or "")
    summary = (request.fixed_value("summary") or "").ljust(10)
    holds = cat.holds_of(patron.barcode) if patron else []
    waiting = [h for h in holds if h.state is HoldState.WAITING]
    unavailable = [h for h in holds if h.state is not HoldState.WAITING]
    loans = list(cat.loans_of(patron.barcode)) if patron else []
    overdue = [i for i in loans if i.due is not None and i.due < now]
    fields = _patron_head(cat, account, request)
    if patron is not None:
        fields += [
            ("BZ", "0050"),
            ("CA", "0050"),
            ("CB", "0050"),
            ("BH", cat.currency),
            ("BV", _money(patron.fines)),
            ("CC", _money(cat.fine_limit)),
            ("PC", patron.category),  # Koha: patron category
        ]
    # Spec: the summary asks for one list at a time, BP..BQ (from 1, both included) of it.
    part = _asked_range(request)
    if summary[0] == "Y":
        fields += [("AS", h.captured_item or h.item or h.record or "") for h in waiting[part]]
    if summary[1] == "Y":
        fields += [("AT", i.barcode) for i in overdue[part]]
    if summary[2] == "Y":
        fields += [("AU", i.barcode) for i in loans[part]]
    if summary[5] == "Y":
        fields += [("CD", h.item or h.record or "") for h in unavailable[part]]
    if patron is not None:
        fields += [("BE", patron.email or None), ("BF", patron.phone or None)]
    fields.append(("AF", _screen(cat, patron)))
    return Message.build(
        "64",
        fields,
        patron_status=patron_flags(cat, patron),
        language=LANGUAGE.get(patron.language, "000") if patron else "000",
        transaction_date=format_date(now, server_tz=zone),
        hold_items_count=f"{len(waiting):04d}",
        overdue_items_count=f"{len(overdue):04d}",
        charged_items_count=f"{len(loans):04d}",
        fine_items_count=f"{int(patron is not None and patron.fines > 0):04d}",
        recall_items_count="0000",
        unavailable_holds_count=f"{len(unavailable):04d}",
    )


def _asked_range(request: Message) -> slice:
    """The items BP..BQ of a 63's list; a field left out or unreadable asks from the first or
    to the last (Koha reads them so)."""
    start, end = _position(request.first("BP")), _position(request.first("BQ"))
    return slice((start or 1) - 1, end)


def _position(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _hold_queue(cat: Catalogue, behaviour: Behaviour, item: Item) -> str | None:
    if behaviour.hold_queue_count is HoldQueueCount.RECORD:
        return str(len(cat.record_queue(item)))
    if behaviour.hold_queue_count is HoldQueueCount.CAPTURED:
        captured = any(h.captured_item == item.barcode for h in cat.holds.values())
        return "1" if captured else "0"
    return None


def _date(day: date, zone: tzinfo) -> str:
    return format_date(datetime.combine(day, time(23, 59), zone), server_tz=zone)


def item_information(
    cat: Catalogue,
    behaviour: Behaviour,
    account: Account,
    request: Message,
    now: datetime,
    zone: tzinfo,
) -> Message:
    barcode = request.first("AB") or ""
    item = cat.item(barcode)
    stamp = format_date(now, server_tz=zone)
    if item is None:
        return Message.build(
            "18",
            [("AB", barcode), ("AJ", ""), ("AF", "Invalid item barcode")],
            circulation_status="01",
            security_marker="00",
            fee_type="01",
            transaction_date=stamp,
        )
    queue = cat.queue_for(item)
    captured = next((h for h in queue if h.captured_item == item.barcode), None)
    transit = cat.transit(item.barcode)
    fields: list[tuple[str, str | None]] = [
        ("CF", _hold_queue(cat, behaviour, item)),
        ("AH", format_date(item.due, server_tz=zone) if item.due else None),
    ]
    if captured is not None and captured.shelf_expires is not None:
        fields.append(("CM", _date(captured.shelf_expires, zone)))
    fields += [
        ("AB", item.barcode),
        ("AJ", item.title),
        ("BG", item.home),
        ("CK", MEDIA_TYPE.get(item.media, "000")),
        ("AQ", item.home),
        ("AP", item.at),
        ("CT", transit.destination if transit else None),
    ]
    if item.fee > 0:
        fields += [("BH", cat.currency), ("BV", _money(item.fee))]
    return Message.build(
        "18",
        fields,
        circulation_status=CIRCULATION_STATUS[item.status],
        security_marker="01",
        fee_type=FEE_RENTAL if item.fee > 0 else "01",
        transaction_date=stamp,
    )


def checkin(
    cat: Catalogue,
    behaviour: Behaviour,
    account: Account,
    barcode: str,
    outcome: CheckinOutcome,
    now: datetime,
    zone: tzinfo,
) -> Message:
    item = outcome.item
    alert = outcome.routing.value
    fields: list[tuple[str, str | None]] = [
        ("AO", account.institution),
        ("AB", barcode),
        ("AQ", item.home if item else ""),
        ("AJ", item.title if item else None),
        ("AA", outcome.borrower),
        ("CK", MEDIA_TYPE.get(item.media, "000") if item else None),
        ("CV", alert),
        ("CT", outcome.destination),
    ]
    patron = outcome.hold_patron
    if alert is not None and patron is not None and behaviour.hold_patron_fields:
        fields += [("CY", patron.barcode), ("DA", patron.full_name)]
    fields.append(("AF", outcome.message or None))
    return Message.build(
        "10",
        fields,
        ok=_ok(outcome.ok),
        resensitize=_yn(outcome.ok and item is not None and item.status is ItemStatus.AVAILABLE),
        magnetic_media="N",
        alert=_yn(alert is not None or not outcome.ok),
        transaction_date=format_date(now, server_tz=zone),
    )


def loan(
    command: str,
    cat: Catalogue,
    account: Account,
    patron_barcode: str,
    barcode: str,
    outcome: LoanOutcome,
    now: datetime,
    zone: tzinfo,
) -> Message:
    """12 checkout or 30 renew response."""
    item = outcome.item
    fields: list[tuple[str, str | None]] = [
        ("AO", account.institution),
        ("AA", patron_barcode),
        ("AB", barcode),
        ("AJ", item.title if item else ""),
        ("AH", format_date(outcome.due, server_tz=zone) if outcome.due else ""),
    ]
    if outcome.fee > 0:
        fields += [("BT", FEE_RENTAL), ("BH", cat.currency), ("BV", _money(outcome.fee))]
    if item is not None:
        fields.append(("CK", MEDIA_TYPE.get(item.media, "000")))
    fields.append(("AF", outcome.message or None))
    return Message.build(
        command,
        fields,
        ok=_ok(outcome.ok),
        renewal_ok=_yn(outcome.renewal),
        magnetic_media="N",
        desensitize=_yn(outcome.ok),
        transaction_date=format_date(now, server_tz=zone),
    )


def hold(
    cat: Catalogue,
    account: Account,
    patron_barcode: str,
    outcome: HoldOutcome,
    now: datetime,
    zone: tzinfo,
) -> Message:
    h = outcome.hold
    fields: list[tuple[str, str | None]] = [
        ("BW", _date(h.expires, zone) if h is not None and h.expires else None),
        ("BR", str(outcome.queue_position) if outcome.ok and outcome.queue_position else None),
        ("BS", h.pickup if h is not None else None),
        ("AO", account.institution),
        ("AA", patron_barcode),
        ("AB", h.item if h is not None else None),
        ("AJ", h.record if h is not None else None),
        ("AF", outcome.message or None),
    ]
    available = outcome.item is not None and outcome.item.status is ItemStatus.AVAILABLE
    return Message.build(
        "16",
        fields,
        ok=_ok(outcome.ok),
        available=_yn(outcome.ok and available),
        transaction_date=format_date(now, server_tz=zone),
    )


def end_session(account: Account, request: Message, now: datetime, zone: tzinfo) -> Message:
    return Message.build(
        "36",
        [("AO", account.institution), ("AA", request.first("AA") or "")],
        end_session="Y",
        transaction_date=format_date(now, server_tz=zone),
    )
