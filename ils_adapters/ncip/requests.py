"""NCIP 2 initiation messages: building the ones we send, reading the ones we answer.

Sans-I/O: builders return bytes, readers take bytes. Every builder's output validates
against ncip_v2_02.xsd, except LookupVersion, which NCIP defines outside that schema, in its
own version-discovery schema (ncip_version.xsd; see ``build_lookup_version``). Element order
follows the schemas' sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ils_adapters.ncip.errors import NcipMalformed
from ils_adapters.ncip.xml import (
    DEFAULT_MAX_BYTES,
    NS,
    child,
    datetime_at,
    el,
    format_datetime,
    local_name,
    message,
    opt,
    parse_xml,
    text,
    version_message,
)

# Every initiation service in NCIPMessage (ncip_v2_02.xsd), for "Unsupported Service" answers.
SERVICES = frozenset(
    [
        "AcceptItem",
        "AgencyCreated",
        "AgencyUpdated",
        "CancelRecallItem",
        "CancelRequestItem",
        "CheckInItem",
        "CheckOutItem",
        "CirculationStatusChangeReported",
        "CirculationStatusUpdated",
        "CreateAgency",
        "CreateItem",
        "CreateUser",
        "CreateUserFiscalTransaction",
        "DeleteItem",
        "DeleteUser",
        "ItemCheckedIn",
        "ItemCheckedOut",
        "ItemCreated",
        "ItemRecallCancelled",
        "ItemRecalled",
        "ItemReceived",
        "ItemRenewed",
        "ItemRequestCancelled",
        "ItemRequestUpdated",
        "ItemRequested",
        "ItemShipped",
        "ItemUpdated",
        "LookupAgency",
        "LookupItem",
        "LookupItemSet",
        "LookupRequest",
        "LookupUser",
        "RecallItem",
        "RenewItem",
        "ReportCirculationStatusChange",
        "RequestItem",
        "SendUserNotice",
        "UndoCheckOutItem",
        "UpdateAgency",
        "UpdateCirculationStatus",
        "UpdateItem",
        "UpdateRequestItem",
        "UpdateUser",
        "UserCreated",
        "UserFiscalTransactionCreated",
        "UserNoticeSent",
        "UserUpdated",
        "LookupVersion",
    ]
)


@dataclass(frozen=True)
class Header:
    """The agencies of an InitiationHeader: who sends (``from_agency``), who answers."""

    from_agency: str
    to_agency: str

    def reversed(self) -> Header:
        return Header(self.to_agency, self.from_agency)


def _header(header: Header | None) -> etree._Element | None:
    if header is None:
        return None
    return el(
        "InitiationHeader",
        el("FromAgencyId", el("AgencyId", header.from_agency)),
        el("ToAgencyId", el("AgencyId", header.to_agency)),
    )


def _user_id(user: str, agency: str | None = None) -> etree._Element:
    return el("UserId", opt("AgencyId", agency), el("UserIdentifierValue", user))


def _item_id(item: str, agency: str | None = None) -> etree._Element:
    return el("ItemId", opt("AgencyId", agency), el("ItemIdentifierValue", item))


def _request_id(request: str, agency: str | None = None) -> etree._Element:
    return el("RequestId", opt("AgencyId", agency), el("RequestIdentifierValue", request))


def _date(name: str, when: datetime | None) -> etree._Element | None:
    return el(name, format_datetime(when)) if when else None


# --- builders (what the client sends) -----------------------------------------------------


def build_lookup_version(header: Header) -> bytes:
    """LookupVersion in the version-discovery form every NCIP version understands: root
    ``NCIPVersionMessage`` in no namespace, agencies as UniqueAgencyId (Scheme, Value)."""
    return version_message("LookupVersion", header.from_agency, header.to_agency)


USER_ELEMENTS = ("Name Information", "User Address Information", "User Language", "Block Or Trap")


def build_lookup_user(
    header: Header | None,
    user: str,
    *,
    elements: tuple[str, ...] = USER_ELEMENTS,
    loaned_items: bool = False,
    requested_items: bool = False,
) -> bytes:
    return message(
        el(
            "LookupUser",
            _header(header),
            _user_id(user),
            *(el("UserElementType", e) for e in elements),
            el("LoanedItemsDesired") if loaned_items else None,
            el("RequestedItemsDesired") if requested_items else None,
        )
    )


ITEM_ELEMENTS = ("Bibliographic Description", "Circulation Status", "Location")


def build_lookup_item(
    header: Header | None, item: str, *, elements: tuple[str, ...] = ITEM_ELEMENTS
) -> bytes:
    return message(
        el(
            "LookupItem",
            _header(header),
            _item_id(item),
            *(el("ItemElementType", e) for e in elements),
        )
    )


def build_accept_item(
    header: Header | None,
    *,
    request: str,
    request_agency: str | None,
    user: str | None,
    item: str | None,
    pickup_location: str | None,
    title: str | None = None,
    author: str | None = None,
    action: str = "Hold For Pickup",
    date_for_return: datetime | None = None,
    pickup_expiry: datetime | None = None,
) -> bytes:
    bib = None
    if title or author:
        bib = el(
            "ItemOptionalFields",
            el("BibliographicDescription", opt("Author", author), opt("Title", title)),
        )
    return message(
        el(
            "AcceptItem",
            _header(header),
            _request_id(request, request_agency),
            el("RequestedActionType", action),
            _user_id(user) if user else None,
            _item_id(item) if item else None,
            _date("DateForReturn", date_for_return),
            bib,
            opt("PickupLocation", pickup_location),
            _date("PickupExpiryDate", pickup_expiry),
        )
    )


def build_request_item(
    header: Header | None,
    *,
    user: str,
    item: str | None = None,
    bib_record: str | None = None,
    bib_agency: str | None = None,
    bib_code: str | None = None,
    request: str | None = None,
    request_agency: str | None = None,
    request_type: str = "Hold",
    scope: str = "Item",
    pickup_location: str | None = None,
) -> bytes:
    """RequestItem by item barcode, or by bibliographic record (``bib_record``), which is
    qualified either by the agency that numbered it or by a code such as "OCLC"."""
    if item is None and bib_record is None:
        raise ValueError("RequestItem needs an item or a bibliographic record")
    bib = None
    if bib_record is not None:
        if bib_agency:
            qualifier = el("AgencyId", bib_agency)
        elif bib_code:
            qualifier = el("BibliographicRecordIdentifierCode", bib_code)
        else:
            raise ValueError("a bibliographic record needs bib_agency or bib_code")
        ident = el("BibliographicRecordIdentifier", bib_record)
        bib = el("BibliographicId", el("BibliographicRecordId", ident, qualifier))
    return message(
        el(
            "RequestItem",
            _header(header),
            _user_id(user),
            bib,
            _item_id(item) if item else None,
            _request_id(request, request_agency) if request else None,
            el("RequestType", request_type),
            el("RequestScopeType", scope),
            opt("PickupLocation", pickup_location),
        )
    )


def build_cancel_request_item(
    header: Header | None,
    *,
    user: str,
    request: str | None = None,
    request_agency: str | None = None,
    item: str | None = None,
    request_type: str = "Hold",
) -> bytes:
    if request is None and item is None:
        raise ValueError("CancelRequestItem needs a request id or an item")
    return message(
        el(
            "CancelRequestItem",
            _header(header),
            _user_id(user),
            _request_id(request, request_agency) if request else None,
            _item_id(item) if item else None,
            el("RequestType", request_type),
        )
    )


def build_check_out_item(
    header: Header | None,
    *,
    user: str,
    item: str,
    request: str | None = None,
    desired_due: datetime | None = None,
) -> bytes:
    return message(
        el(
            "CheckOutItem",
            _header(header),
            _user_id(user),
            _item_id(item),
            _request_id(request) if request else None,
            _date("DesiredDateDue", desired_due),
        )
    )


def build_check_in_item(
    header: Header | None,
    *,
    item: str,
    item_agency: str | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """CheckInItem; ``occurred_at`` (MandatedAction) backdates it to the deposit time."""
    mandated = (
        el("MandatedAction", el("DateEventOccurred", format_datetime(occurred_at)))
        if (occurred_at)
        else None
    )
    return message(el("CheckInItem", _header(header), mandated, _item_id(item, item_agency)))


def build_renew_item(
    header: Header | None, *, user: str, item: str, desired_due: datetime | None = None
) -> bytes:
    return message(
        el(
            "RenewItem",
            _header(header),
            _user_id(user),
            _item_id(item),
            _date("DesiredDateDue", desired_due),
        )
    )


# --- reading (what the responder answers) -------------------------------------------------


@dataclass(frozen=True)
class AcceptItemRequest:
    """An ILL item announced to us: create a temporary item and a hold for pickup."""

    header: Header | None
    request: str
    request_agency: str | None
    action: str
    user: str | None
    item: str | None
    item_agency: str | None
    title: str | None
    author: str | None
    pickup_location: str | None
    pickup_expiry: datetime | None
    date_for_return: datetime | None


@dataclass(frozen=True)
class CheckInItemRequest:
    """``item_type`` is the ItemIdentifierType the sender gave: what kind of id ``item`` is
    (a barcode when absent; some ILL systems name the item by their request id)."""

    header: Header | None
    item: str
    item_agency: str | None
    occurred_at: datetime | None
    item_type: str | None = None


@dataclass(frozen=True)
class LookupVersionRequest:
    header: Header | None


@dataclass(frozen=True)
class OtherRequest:
    """A well-formed NCIP service we do not answer (the responder says Unsupported Service)."""

    service: str
    header: Header | None


NcipRequest = AcceptItemRequest | CheckInItemRequest | LookupVersionRequest | OtherRequest


def service_element(root: etree._Element) -> etree._Element:
    """The one service element inside NCIPMessage (or NCIPVersionMessage)."""
    if etree.QName(root).namespace not in (NS, None):
        raise NcipMalformed(f"root element is not in the NCIP namespace: {root.tag}")
    if local_name(root) not in ("NCIPMessage", "NCIPVersionMessage"):
        raise NcipMalformed(f"root element is {local_name(root)}, not NCIPMessage")
    services = [c for c in root if isinstance(c.tag, str)]
    if len(services) != 1:
        raise NcipMalformed(f"NCIPMessage holds {len(services)} elements, expected one")
    return services[0]


def _agency(parent: etree._Element | None, name: str) -> str | None:
    """An agency as NCIP 2 writes it (``<AgencyId>``) or as NCIP 1 and the version-discovery
    schema do (``<UniqueAgencyId><Scheme/><Value/></UniqueAgencyId>``)."""
    return text(parent, name, "AgencyId") or text(parent, name, "UniqueAgencyId", "Value")


def _read_header(service: etree._Element) -> Header | None:
    head = child(service, "InitiationHeader")
    from_agency = _agency(head, "FromAgencyId")
    to_agency = _agency(head, "ToAgencyId")
    if from_agency is None or to_agency is None:
        # LookupVersion carries its agencies directly.
        from_agency = from_agency or _agency(service, "FromAgencyId")
        to_agency = to_agency or _agency(service, "ToAgencyId")
    if from_agency is None or to_agency is None:
        return None
    return Header(from_agency, to_agency)


# Elements only NCIP version 1 has; version 2 replaced each with a simpler one.
_VERSION_1_ELEMENTS = ("UniqueAgencyId", "UniqueItemId", "UniqueUserId", "UniqueRequestId")


def _is_version_1(root: etree._Element, service: etree._Element) -> bool:
    """An NCIP version 1 message: no namespace, and a v1 version attribute or v1 elements."""
    if etree.QName(root).namespace is not None or local_name(root) != "NCIPMessage":
        return False
    version = root.get("version") or ""
    if "v1_0" in version or "ncip_v1" in version.lower():
        return True
    return any(
        isinstance(node.tag, str) and local_name(node) in _VERSION_1_ELEMENTS
        for node in service.iter()
    )


def _required(value: str | None, service: str, element: str) -> str:
    if value is None:
        raise NcipMalformed(f"{service} lacks {element}", service=service, element=element)
    return value


SUPPORTED_VERSIONS = "NCIP 2.0 and 2.02 (namespace http://www.niso.org/2008/ncip)"


def parse_request(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> NcipRequest:
    """Read an initiation message. Raises NcipMalformed only."""
    root = parse_xml(body, max_bytes=max_bytes)
    service = service_element(root)
    name = local_name(service)
    header = _read_header(service)
    if name == "LookupVersion":  # the one message every NCIP version shares
        return LookupVersionRequest(header)
    if name in SERVICES and _is_version_1(root, service):
        raise NcipMalformed(
            f"NCIP version 1 messages are not supported; send {SUPPORTED_VERSIONS}",
            service=name,
            element="NCIPMessage",
            problem="Unsupported Service",
            value=(root.get("version") or "")[:200] or None,
        )
    if name == "AcceptItem":
        bib = child(service, "ItemOptionalFields", "BibliographicDescription")
        return AcceptItemRequest(
            header=header,
            request=_required(
                text(service, "RequestId", "RequestIdentifierValue"), name, "RequestId"
            ),
            request_agency=text(service, "RequestId", "AgencyId"),
            action=_required(text(service, "RequestedActionType"), name, "RequestedActionType"),
            user=text(service, "UserId", "UserIdentifierValue"),
            item=text(service, "ItemId", "ItemIdentifierValue"),
            item_agency=text(service, "ItemId", "AgencyId"),
            title=text(bib, "Title"),
            author=text(bib, "Author"),
            pickup_location=text(service, "PickupLocation"),
            pickup_expiry=datetime_at(service, "PickupExpiryDate", service=name),
            date_for_return=datetime_at(service, "DateForReturn", service=name),
        )
    if name == "CheckInItem":
        return CheckInItemRequest(
            header=header,
            item=_required(text(service, "ItemId", "ItemIdentifierValue"), name, "ItemId"),
            item_agency=text(service, "ItemId", "AgencyId"),
            occurred_at=datetime_at(service, "MandatedAction", "DateEventOccurred", service=name),
            item_type=text(service, "ItemId", "ItemIdentifierType"),
        )
    if name in SERVICES:
        return OtherRequest(name, header)
    raise NcipMalformed(f"{name} is not an NCIP service")


__all__ = [
    "SUPPORTED_VERSIONS",
    "AcceptItemRequest",
    "CheckInItemRequest",
    "Header",
    "LookupVersionRequest",
    "NcipRequest",
    "OtherRequest",
    "build_accept_item",
    "build_cancel_request_item",
    "build_check_in_item",
    "build_check_out_item",
    "build_lookup_item",
    "build_lookup_user",
    "build_lookup_version",
    "build_renew_item",
    "build_request_item",
    "parse_request",
]
