"""NCIP 2 response messages: typed results, the parser, and the builders our responder uses.

``parse_response`` turns any response (or a Problem) into one frozen value and raises only
NcipMalformed. Problems come back as a :class:`Problems` value, not an exception: the client
decides what they mean for its caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from ils_adapters.ncip.errors import NcipMalformed
from ils_adapters.ncip.requests import Header, service_element
from ils_adapters.ncip.schemes import GENERAL, scheme_for
from ils_adapters.ncip.xml import (
    DEFAULT_MAX_BYTES,
    SCHEME_ATTR,
    VERSION,
    child,
    children,
    datetime_at,
    el,
    local_name,
    message,
    opt,
    parse_xml,
    text,
    version_message,
)

# Kept for callers that named it: NCIP's scheme for general processing errors.
GENERAL_PROBLEMS = GENERAL


@dataclass(frozen=True)
class NcipProblem:
    """One Problem. ``type`` may be empty: some responders (FOLIO's mod-ncip) send an empty
    ProblemType and say everything in ProblemDetail. ``scheme`` is the scheme the sender
    named (or the one we send; chosen by type when None); it does not take part in equality."""

    type: str
    detail: str | None = None
    element: str | None = None
    value: str | None = None
    scheme: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        kind = self.type or "Problem"
        return f"{kind} ({self.detail})" if self.detail else kind


@dataclass(frozen=True)
class Problems:
    """A response that carries Problems instead of a result. ``service`` is None for a
    top-level Problem (the responder could not tell which service was asked)."""

    service: str | None
    problems: tuple[NcipProblem, ...]


@dataclass(frozen=True)
class LookupVersionResult:
    versions: tuple[str, ...]


@dataclass(frozen=True)
class LoanedItem:
    item: str
    due: datetime | None
    title: str | None


@dataclass(frozen=True)
class RequestedItem:
    item: str | None
    request: str | None
    request_type: str | None
    status: str | None  # e.g. "Available For Pickup"
    pickup_location: str | None
    pickup_expiry: datetime | None
    title: str | None


@dataclass(frozen=True)
class LookupUserResult:
    """Personal data: keep it only as long as the flow needs it."""

    user: str
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    blocks: tuple[str, ...]
    loaned_items: tuple[LoanedItem, ...]
    requested_items: tuple[RequestedItem, ...]


@dataclass(frozen=True)
class LookupItemResult:
    item: str | None
    request: str | None
    hold_pickup_date: datetime | None
    circulation_status: str | None
    title: str | None
    borrower: str | None
    requesters: tuple[str, ...]


@dataclass(frozen=True)
class AcceptItemResult:
    request: str
    item: str | None


@dataclass(frozen=True)
class RequestItemResult:
    request: str | None
    item: str | None
    user: str
    request_type: str | None
    hold_pickup_date: datetime | None


@dataclass(frozen=True)
class CancelRequestItemResult:
    request: str | None
    item: str | None
    user: str


@dataclass(frozen=True)
class CheckOutItemResult:
    item: str
    user: str
    due: datetime | None  # None for an indeterminate loan period


@dataclass(frozen=True)
class CheckInItemResult:
    item: str
    user: str | None


@dataclass(frozen=True)
class RenewItemResult:
    item: str
    due: datetime | None
    pending: bool = False  # the responder will decide later


NcipResult = (
    Problems
    | LookupVersionResult
    | LookupUserResult
    | LookupItemResult
    | AcceptItemResult
    | RequestItemResult
    | CancelRequestItemResult
    | CheckOutItemResult
    | CheckInItemResult
    | RenewItemResult
)


# --- parsing ------------------------------------------------------------------------------


def _problems(parent: etree._Element) -> tuple[NcipProblem, ...]:
    """Every Problem under ``parent``. One without a ProblemType (or an empty one) is still a
    refusal: what the responder meant is then only in its ProblemDetail."""
    found = []
    for p in children(parent, "Problem"):
        kind = child(p, "ProblemType")
        scheme = None if kind is None else (kind.get(SCHEME_ATTR) or kind.get("Scheme"))
        found.append(
            NcipProblem(
                text(p, "ProblemType") or "",
                text(p, "ProblemDetail"),
                text(p, "ProblemElement"),
                text(p, "ProblemValue"),
                scheme=scheme,
            )
        )
    return tuple(found)


def _need(value: str | None, what: str) -> str:
    if value is None:
        raise NcipMalformed(f"response lacks {what}")
    return value


_EMAIL_TYPES = {"mailto", "email", "e-mail", "electronic mail address"}
_PHONE_TYPES = {"tel", "phone", "telephone", "mobile", "sms", "mobile phone"}


def _lookup_user(resp: etree._Element) -> LookupUserResult:
    fields = child(resp, "UserOptionalFields")
    email = phone = None
    for address in children(fields, "UserAddressInformation"):
        kind = (text(address, "ElectronicAddress", "ElectronicAddressType") or "").lower()
        data = text(address, "ElectronicAddress", "ElectronicAddressData")
        if data is None:
            continue
        if email is None and (kind in _EMAIL_TYPES or (not kind and "@" in data)):
            email = data.removeprefix("mailto:")
        elif phone is None and kind in _PHONE_TYPES:
            phone = data.removeprefix("tel:")
    person = child(fields, "NameInformation", "PersonalNameInformation")
    name = text(person, "UnstructuredPersonalUserName")
    if name is None and child(person, "StructuredPersonalUserName") is not None:
        parts = [text(person, "StructuredPersonalUserName", p) for p in ("GivenName", "Surname")]
        name = " ".join(p for p in parts if p) or None
    return LookupUserResult(
        user=_need(text(resp, "UserId", "UserIdentifierValue"), "UserId"),
        name=name,
        email=email,
        phone=phone,
        language=text(fields, "UserLanguage"),
        blocks=tuple(
            t for b in children(fields, "BlockOrTrap") if (t := text(b, "BlockOrTrapType"))
        ),
        loaned_items=tuple(
            LoanedItem(
                item=_need(text(li, "ItemId", "ItemIdentifierValue"), "LoanedItem/ItemId"),
                due=datetime_at(li, "DateDue"),
                title=text(li, "Title") or text(li, "Ext", "BibliographicDescription", "Title"),
            )
            for li in children(resp, "LoanedItem")
        ),
        requested_items=tuple(
            RequestedItem(
                item=text(ri, "ItemId", "ItemIdentifierValue"),
                request=text(ri, "RequestId", "RequestIdentifierValue"),
                request_type=text(ri, "RequestType"),
                status=text(ri, "RequestStatusType"),
                pickup_location=text(ri, "PickupLocation"),
                pickup_expiry=datetime_at(ri, "PickupExpiryDate"),
                title=text(ri, "Title"),
            )
            for ri in children(resp, "RequestedItem")
        ),
    )


def _lookup_item(resp: etree._Element) -> LookupItemResult:
    transaction = child(resp, "ItemTransaction")
    return LookupItemResult(
        item=text(resp, "ItemId", "ItemIdentifierValue"),
        request=text(resp, "RequestId", "RequestIdentifierValue"),
        hold_pickup_date=datetime_at(resp, "HoldPickupDate"),
        circulation_status=text(resp, "ItemOptionalFields", "CirculationStatus"),
        title=text(resp, "ItemOptionalFields", "BibliographicDescription", "Title"),
        borrower=text(transaction, "CurrentBorrower", "UserId", "UserIdentifierValue"),
        requesters=tuple(
            v
            for r in children(transaction, "CurrentRequester")
            if (v := text(r, "UserId", "UserIdentifierValue"))
        ),
    )


def _by_service(service: str, resp: etree._Element) -> NcipResult:
    item = text(resp, "ItemId", "ItemIdentifierValue")
    request = text(resp, "RequestId", "RequestIdentifierValue")
    user = text(resp, "UserId", "UserIdentifierValue")
    if service == "LookupVersion":
        versions = tuple(v.text.strip() for v in children(resp, "VersionSupported") if v.text)
        return LookupVersionResult(versions)
    if service == "LookupUser":
        return _lookup_user(resp)
    if service == "LookupItem":
        return _lookup_item(resp)
    if service == "AcceptItem":
        return AcceptItemResult(_need(request, "RequestId"), item)
    if service == "RequestItem":
        return RequestItemResult(
            request,
            item,
            _need(user, "UserId"),
            text(resp, "RequestType"),
            datetime_at(resp, "HoldPickupDate"),
        )
    if service == "CancelRequestItem":
        return CancelRequestItemResult(request, item, _need(user, "UserId"))
    if service == "CheckOutItem":
        return CheckOutItemResult(
            _need(item, "ItemId"), _need(user, "UserId"), datetime_at(resp, "DateDue")
        )
    if service == "CheckInItem":
        return CheckInItemResult(_need(item, "ItemId"), user)
    if service == "RenewItem":
        if child(resp, "Pending") is not None:
            return RenewItemResult(item or "", None, pending=True)
        return RenewItemResult(_need(item, "ItemId"), datetime_at(resp, "DateDue"))
    raise NcipMalformed(f"{service}Response is not a response this client reads")


def parse_response(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> NcipResult:
    """Read a response message. Raises NcipMalformed, nothing else."""
    root = parse_xml(body, max_bytes=max_bytes)
    problems = _problems(root)
    if problems:  # top-level Problem(s): the responder could not even pick a service
        return Problems(None, problems)
    resp = service_element(root)
    name = local_name(resp)
    if not name.endswith("Response"):
        raise NcipMalformed(f"{name} is not a response")
    service = name.removesuffix("Response")
    problems = _problems(resp)
    if problems:
        return Problems(service, problems)
    return _by_service(service, resp)


# --- building (our responder's answers) ---------------------------------------------------


def _response_header(header: Header | None) -> etree._Element | None:
    if header is None:
        return None
    return el(
        "ResponseHeader",
        el("FromAgencyId", el("AgencyId", header.from_agency)),
        el("ToAgencyId", el("AgencyId", header.to_agency)),
    )


def _problem(service: str | None, p: NcipProblem) -> etree._Element:
    if not p.type:
        raise ValueError("a Problem we send needs a ProblemType")
    return el(
        "Problem",
        el("ProblemType", p.type, scheme=p.scheme or scheme_for(service, p.type)),
        opt("ProblemDetail", p.detail),
        opt("ProblemElement", p.element),
        opt("ProblemValue", p.value),
    )


def build_problem_response(
    service: str | None, problems: tuple[NcipProblem, ...], header: Header | None = None
) -> bytes:
    """A Problem answer: inside ``<service>Response`` when known, else top-level."""
    if service is None:
        # NCIPMessage may hold Problem elements directly (ncip_v2_02.xsd, NCIPMessage choice).
        return message(*(_problem(None, p) for p in problems))
    return message(
        el(
            f"{service}Response",
            _response_header(header),
            *(_problem(service, p) for p in problems),
        )
    )


def build_accept_item_response(
    header: Header | None,
    *,
    request: str,
    request_agency: str | None,
    item: str | None,
    item_agency: str | None = None,
) -> bytes:
    return message(
        el(
            "AcceptItemResponse",
            _response_header(header),
            el("RequestId", opt("AgencyId", request_agency), el("RequestIdentifierValue", request)),
            el("ItemId", opt("AgencyId", item_agency), el("ItemIdentifierValue", item))
            if item
            else None,
        )
    )


def build_check_in_item_response(
    header: Header | None, *, item: str, item_agency: str | None = None, user: str | None = None
) -> bytes:
    return message(
        el(
            "CheckInItemResponse",
            _response_header(header),
            el("ItemId", opt("AgencyId", item_agency), el("ItemIdentifierValue", item)),
            el("UserId", el("UserIdentifierValue", user)) if user else None,
        )
    )


def build_lookup_version_response(
    header: Header | None, versions: tuple[str, ...] = (VERSION,)
) -> bytes:
    """LookupVersionResponse in the version-discovery form (ncip_version.xsd), like
    LookupVersion itself. Both agencies are required there: unknown ones are sent empty."""
    if not versions:
        raise ValueError("LookupVersionResponse names at least one version")
    head = header or Header("", "")
    return version_message(
        "LookupVersionResponse", head.from_agency, head.to_agency, versions
    )
