"""AcceptItem: an incoming ILL item is registered for pickup at a bank.

:func:`accept_item` finds the bank, passes the AcceptItem on to the bank's ILS when it has
``ncip.url`` (which creates the temporary item and the hold), records the loan and holds a
compartment back for it (``bridge.services.transfers.announce``). A repeat of the same RequestId
by the same partner answers the same and passes nothing on twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services import transfers
from bridge.services.banks import audit, pseudonym
from bridge.services.ill.callers import Caller, partner_of
from bridge.services.ill.loans import OPEN, OUR_AGENCY, column_limit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown
from ils_adapters.ncip import (
    AcceptItemDone,
    AcceptItemRequest,
    Header,
    NcipClient,
    NcipMalformed,
    NcipProblem,
    NcipRejected,
)

# RequestedActionType values (NCIP Version 1 scheme) that end in a pickup; a locker does
# nothing else. Compared case-insensitively: FOLIO's peers send bare values.
PICKUP_ACTIONS = frozenset(
    {"hold for pickup", "hold for pickup and notify", "circulate", "circulate and notify"}
)
DEFAULT_SIZE = "S"  # AcceptItem says nothing about size; staff can say otherwise at the scan


def ils_ncip_client(rt: Runtime, bank_id: str) -> NcipClient | None:
    """The NCIP client of the bank's ILS, or None when it has no ``ncip.url``."""
    ils = rt.settings.ils_for(bank_id)
    ncip = ils.ncip
    if ncip is None or not ncip.url:
        return None
    url = ncip.url

    def build() -> NcipClient:
        header = Header(ncip.from_agency, ncip.to_agency or ils.institution or ils.name)
        return NcipClient(url, header, timeout=(3.05, ils.timeout_seconds))

    client: NcipClient = rt.cached(f"ncip:ils:{ils.name}", build)
    return client


def accept_item(
    rt: Runtime, request: AcceptItemRequest, caller: Caller
) -> AcceptItemDone | NcipProblem:
    """Registers an incoming ILL item for pickup at a bank; see the module docstring.

    Returns a Problem for requests we cannot serve (and then changes nothing). Raises
    IlsUnavailable / OutcomeUnknown when the ILS could not be told (the responder answers
    "Temporary Processing Failure", and the partner's retry with the same RequestId is safe).
    """
    partner = partner_of(caller, request.header) or request.request_agency or OUR_AGENCY
    refused = _check(request) or _too_long(request, partner)
    if refused is not None:
        return refused
    assert request.pickup_location and request.user
    bank_id = transfers.bank_for_location(rt, request.pickup_location)
    if bank_id is None:
        return NcipProblem(
            "Cannot Accept Item",
            f"no locker bank serves pickup location {request.pickup_location}",
            element="PickupLocation",
            value=request.pickup_location,
        )
    client = ils_ncip_client(rt, bank_id)
    if request.item is None and client is None:
        return NcipProblem("Needed Data Missing", "ItemId names the item", element="ItemId")
    now = rt.clock()
    try:
        with unit_of_work(rt.sessions) as s:
            row = s.scalars(
                select(IllRequestRow).where(
                    IllRequestRow.partner == partner,
                    IllRequestRow.request_agency == (request.request_agency or ""),
                    IllRequestRow.request_id == request.request,
                )
            ).one_or_none()
            if row is not None:
                repeat = _repeat(row, request, bank_id)
                if repeat is not None:
                    return repeat
                row.attempts += 1  # a forward whose outcome was unknown: try it again
            else:
                clash = _item_clash(s, request, partner)
                if clash is not None:
                    return clash
                row = _new_row(request, bank_id, partner, now)
                if client is None:
                    row.state = "accepted"
                    s.add(row)
                    s.flush()
                    _accepted(rt, s, row, caller, now)
                    return AcceptItemDone(item=row.ils_item, item_agency=row.item_agency)
                s.add(row)
                s.flush()
            row_id, first = row.id, row.attempts == 1
    except IntegrityError:
        # The same RequestId arrived twice at once; the other request is handling it.
        return NcipProblem("Temporary Processing Failure", "this request is being processed; retry")
    assert client is not None
    return _forward(rt, client, request, row_id, bank_id, first=first, caller=caller)


def _check(request: AcceptItemRequest) -> NcipProblem | None:
    if request.action.strip().casefold() not in PICKUP_ACTIONS:
        return NcipProblem(
            "Cannot Accept Item",
            "a locker can only hold items for pickup",
            element="RequestedActionType",
            value=request.action,
        )
    if not request.pickup_location:
        return NcipProblem(
            "Needed Data Missing", "PickupLocation names the locker bank", element="PickupLocation"
        )
    if not request.user:
        return NcipProblem("Needed Data Missing", "UserId names the patron", element="UserId")
    return None


def _too_long(request: AcceptItemRequest, partner: str) -> NcipProblem | None:
    """A Problem naming the first value longer than we keep (what a database with typed
    columns would refuse), or None. Title and action are shortened instead: nobody matches
    on them."""
    header = request.header
    checks = (
        ("RequestId", request.request, "request_id", "the RequestIdentifierValue"),
        ("AgencyId", request.request_agency, "request_agency", "the AgencyId of RequestId"),
        ("UserId", request.user, "patron", "the UserIdentifierValue"),
        ("ItemId", request.item, "item", "the ItemIdentifierValue"),
        ("AgencyId", request.item_agency, "item_agency", "the AgencyId of ItemId"),
        ("PickupLocation", request.pickup_location, "pickup_location", "PickupLocation"),
        ("FromAgencyId", partner, "partner", "the FromAgencyId of InitiationHeader"),
        ("ToAgencyId", header.to_agency if header else None, "to_agency", "the ToAgencyId"),
    )
    for element, value, column, what in checks:
        limit = column_limit(column)
        if value is not None and len(value) > limit:
            return NcipProblem(
                "Element Rule Violated",
                f"{what} is {len(value)} characters long; at most {limit} are accepted",
                element=element,
                value=value[:limit],
            )
    return None


def _item_clash(s: Session, request: AcceptItemRequest, partner: str) -> NcipProblem | None:
    """Two open loans with one barcode could not be told apart at the locker (and one
    partner's cancellation would release the other's compartment)."""
    item = request.item
    if item is None:
        return None
    taken = s.scalars(
        select(IllRequestRow.id).where(
            or_(IllRequestRow.ils_item == item, IllRequestRow.item == item),
            IllRequestRow.state.in_(OPEN),
            # A copy of this very request committed since we looked is no clash: the insert
            # below then fails on the key, and the partner is asked to retry.
            or_(
                IllRequestRow.partner != partner,
                IllRequestRow.request_agency != (request.request_agency or ""),
                IllRequestRow.request_id != request.request,
            ),
        )
    ).first()
    if taken is None:
        return None
    return NcipProblem(
        "Cannot Accept Item",
        "an inter-library loan with this item id is already open here; send another item id",
        element="ItemId",
        value=item,
    )


def _new_row(
    request: AcceptItemRequest, bank_id: str, partner: str, now: datetime
) -> IllRequestRow:
    return IllRequestRow(
        request_id=request.request,
        request_agency=request.request_agency or "",
        partner=partner,
        to_agency=request.header.to_agency if request.header else None,
        bank_id=bank_id,
        pickup_location=request.pickup_location or "",
        item=request.item or "",
        item_agency=request.item_agency,
        ils_item=request.item or "",
        patron=request.user,
        title=(request.title or "")[:300] or None,
        action=request.action[:64],
        state="forwarding",
        attempts=1,
        accepted_at=now,
        pickup_expiry=request.pickup_expiry,
        date_for_return=request.date_for_return,
    )


def _repeat(
    row: IllRequestRow, request: AcceptItemRequest, bank_id: str
) -> AcceptItemDone | NcipProblem | None:
    """The answer to an AcceptItem whose RequestId this partner already used; None: forward
    it again. Only a loan still open is answered with success: one the partner cancelled, or
    that came back, holds nothing here any more, so "accepted" would be untrue."""
    if (request.item and request.item != row.item) or bank_id != row.bank_id:
        return NcipProblem(
            "Cannot Accept Item",
            "this RequestId was already accepted for another item or pickup location",
            element="RequestId",
            value=request.request,
        )
    if row.state == "forwarding":
        return None
    if row.state != "accepted":
        ended = "you checked it in (cancelled)" if row.state == "cancelled" else "it came back"
        return NcipProblem(
            "Cannot Accept Item",
            f"the loan for this RequestId is over ({ended}); send a new RequestId to lend again",
            element="RequestId",
            value=request.request,
        )
    return AcceptItemDone(item=row.ils_item, item_agency=row.item_agency)


def _forward(
    rt: Runtime,
    client: NcipClient,
    request: AcceptItemRequest,
    row_id: int,
    bank_id: str,
    *,
    first: bool,
    caller: Caller,
) -> AcceptItemDone | NcipProblem:
    """Passes the AcceptItem on to the ILS and records what it answered."""
    bank = rt.settings.bank(bank_id)
    try:
        answer = client.accept_item(
            request=request.request,
            user=request.user,
            item=request.item,
            pickup_location=bank.branch,  # the ILS's own code for the bank
            title=request.title,
            author=request.author,
            pickup_expiry=request.pickup_expiry,
            date_for_return=request.date_for_return,
        )
    except NcipRejected as exc:
        _not_forwarded(rt, row_id, str(exc), drop=first)
        p = exc.problems[0] if exc.problems else NcipProblem("")
        detail = f"the catalogue refused: {p.detail or p.type or 'no reason given'}"
        if not p.type:  # FOLIO says it all in ProblemDetail: still a refusal
            return NcipProblem("Cannot Accept Item", detail, p.element, p.value)
        return NcipProblem(p.type, detail, p.element, p.value, scheme=p.scheme)
    except IlsRejected as exc:  # HTTP 4xx: our NCIP configuration, not the request
        _not_forwarded(rt, row_id, str(exc), drop=first)
        return NcipProblem("Cannot Accept Item", "the catalogue refused our NCIP call")
    except IlsUnavailable as exc:
        _not_forwarded(rt, row_id, str(exc), drop=first)  # nothing was applied
        raise
    except (OutcomeUnknown, NcipMalformed) as exc:
        # The ILS may have created the item: keep the row, so the retry forwards again.
        _not_forwarded(rt, row_id, str(exc), drop=False)
        raise OutcomeUnknown(f"the catalogue's answer to AcceptItem was lost: {exc}") from exc
    item = answer.item or request.item
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, row_id)
        assert row is not None
        if item is None or len(item) > column_limit("ils_item"):
            row.last_error = (
                "the catalogue accepted the item without naming it"
                if item is None
                else "the catalogue named the item with an id over "
                f"{column_limit('ils_item')} characters"
            )
            audit(
                s,
                "ill_needs_staff",
                at=now,
                bank_id=row.bank_id,
                actor=caller.label,
                request=row.request_id,
                reason=row.last_error,
            )
            return NcipProblem("Cannot Accept Item", row.last_error)
        row.ils_item, row.item = item, row.item or item
        row.state, row.last_error = "accepted", None
        _accepted(rt, s, row, caller, now)
        return AcceptItemDone(item=row.ils_item, item_agency=row.item_agency)


def _not_forwarded(rt: Runtime, row_id: int, error: str, *, drop: bool) -> None:
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, row_id)
        if row is None:
            return
        if drop:
            s.delete(row)
        else:
            row.last_error = error[:300]


def _accepted(rt: Runtime, s: Session, row: IllRequestRow, caller: Caller, now: datetime) -> None:
    """Holds a compartment back for the item and audits the arrival of the request."""
    bank = rt.settings.bank(row.bank_id)
    transfers.announce(
        s,
        item=row.ils_item,
        bank_id=row.bank_id,
        destination=bank.branch,
        size=DEFAULT_SIZE,
        at=now,
        actor=caller.label,
    )
    audit(
        s,
        "ill_accepted",
        at=now,
        bank_id=row.bank_id,
        actor=caller.label,
        subject=pseudonym(rt, row.patron) if row.patron else None,
        item=row.ils_item,
        request=row.request_id,
        partner=row.partner,
        via=caller.how,
    )
