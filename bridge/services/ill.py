"""Inter-library loans through the lockers (docs/ill.md).

An ILL system tells us over NCIP that an item is coming for one of our patrons (AcceptItem,
``PickupLocation`` = a locker bank). We:

1. find the bank (``settings.routing`` or a bank's ``branch``), refuse unknown locations;
2. when the bank's ILS has ``ncip.url``, pass the AcceptItem on to it, which creates the
   temporary item and the hold (the item id it answers with is the barcode staff will scan);
3. record the loan and hold a compartment back for it (``bridge.services.transfers.announce``).

From there the item is an ordinary hold: scanned at the bank, loaded, the patron notified,
lent at pickup. When it comes back through a return compartment and the returns worker has
checked it in, :func:`on_checked_in` queues outbox work (kind ``ill_checkin``) whose job,
:func:`tell_partner`, sends CheckInItem to the partner's NCIP endpoint (``[[ill_partners]]``),
retrying with backoff until it answers.

Use cases, one transaction each: :func:`accept_item`, :func:`partner_check_in` (the partner
checks the item in itself: the loan is over for us), :func:`on_checked_in`, :func:`tell_partner`.
Each partner's loans are its own: a loan is known by (partner, RequestId agency, RequestId),
the partner being the one the credential authenticated (:func:`partner_of`), and no lookup made
for a partner reaches another partner's loans. AcceptItem is idempotent under that key.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, bindparam, event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.config import IllPartnerSettings, Settings
from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.services import transfers
from bridge.services.banks import audit, pseudonym
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import LoadRow
from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown
from ils_adapters.ncip import (
    AcceptItemDone,
    AcceptItemRequest,
    CheckInItemDone,
    CheckInItemRequest,
    Header,
    NcipClient,
    NcipMalformed,
    NcipProblem,
    NcipRejected,
    check_shared_secret,
)

log = logging.getLogger(__name__)

OUTBOX_KIND = "ill_checkin"
SECRET_HEADER = "X-NCIP-Secret"  # noqa: S105 (a header name)
OUR_AGENCY = "lockerbridge"  # how we name ourselves when nothing better is known
VERSIONS = (
    "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd",
    "http://www.niso.org/schemas/ncip/v2_0/ncip_v2_0.xsd",
)
# RequestedActionType values (NCIP Version 1 scheme) that end in a pickup; a locker does
# nothing else. Compared case-insensitively: FOLIO's peers send bare values.
PICKUP_ACTIONS = frozenset(
    {"hold for pickup", "hold for pickup and notify", "circulate", "circulate and notify"}
)
DEFAULT_SIZE = "S"  # AcceptItem says nothing about size; staff can say otherwise at the scan
MAX_ATTEMPTS = 20  # CheckInItem to a partner; about two hours of backoff, then staff

OPEN = ("forwarding", "accepted")


@dataclass(frozen=True)
class Caller:
    """Who called /ncip, as authentication established it."""

    how: str  # "secret" or "certificate"
    partner: str | None  # the ILL partner's agency when the credential is a partner's

    @property
    def label(self) -> str:
        return f"ncip:{self.partner or 'ils-secret'}"


# --- authentication -----------------------------------------------------------------------


def _dn(value: str) -> str:
    return re.sub(r"\s*,\s*", ",", value.strip()).casefold()


class _Headers(Protocol):
    def get(self, key: str) -> str | None: ...


def authenticate(settings: Settings, headers: _Headers) -> Caller | None:
    """The caller behind a request's headers, or None.

    Accepted: ``X-NCIP-Secret`` equal to a partner's ``shared_secret`` or to an ILS's
    ``ncip.shared_secret``; or a client certificate the TLS proxy verified (its verify header
    says SUCCESS) whose subject DN is a partner's ``client_dn``. Every secret is compared in
    constant time, and all of them are compared, so timing tells nothing about which matched.
    """
    presented = headers.get(SECRET_HEADER)
    found: Caller | None = None
    for partner in settings.ill_partners:
        if partner.shared_secret and check_shared_secret(presented, partner.shared_secret):
            found = found or Caller("secret", partner.agency)
    for ils in settings.ils:
        secret = ils.ncip.shared_secret if ils.ncip else None
        if secret and check_shared_secret(presented, secret):
            found = found or Caller("secret", None)
    if found is not None:
        return found
    security = settings.security
    verified = (headers.get(security.ncip_client_verify_header) or "").strip().upper()
    subject = headers.get(security.ncip_client_dn_header)
    if verified == "SUCCESS" and subject:
        for partner in settings.ill_partners:
            if partner.client_dn and _dn(partner.client_dn) == _dn(subject):
                return Caller("certificate", partner.agency)
    return None


def partner_of(caller: Caller, header: Header | None) -> str | None:
    """Whose loans a request may see and make: the partner its credential authenticated.

    The ILS's own NCIP secret (staff tools, the catalogue) belongs to no partner: it is trusted
    to act for the agency its InitiationHeader names (FromAgencyId), and without a header for
    none in particular (None).
    """
    return caller.partner or (header.from_agency if header else None)


def partner_for(settings: Settings, agency: str | None) -> IllPartnerSettings | None:
    if not agency:
        return None
    wanted = agency.strip().casefold()
    return next((p for p in settings.ill_partners if p.agency.strip().casefold() == wanted), None)


# --- NCIP clients (the rt.cached seam: tests may put their own in) -------------------------


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


def partner_client(rt: Runtime, partner: IllPartnerSettings, our_agency: str) -> NcipClient:
    assert partner.url, "partner_client needs a partner with a url"
    url = partner.url

    def build() -> NcipClient:
        headers = {partner.secret_header: partner.shared_secret} if partner.shared_secret else {}
        return NcipClient(
            url,
            Header(our_agency, partner.agency),
            timeout=(3.05, partner.timeout_seconds),
            headers=headers,
        )

    client: NcipClient = rt.cached(f"ncip:partner:{partner.agency}:{our_agency}", build)
    return client


# --- AcceptItem -----------------------------------------------------------------------------


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


def _limit(column: str) -> int:
    length: int = IllRequestRow.__table__.c[column].type.length  # type: ignore[attr-defined]
    return length


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
        limit = _limit(column)
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
        if item is None or len(item) > _limit("ils_item"):
            row.last_error = (
                "the catalogue accepted the item without naming it"
                if item is None
                else f"the catalogue named the item with an id over {_limit('ils_item')} characters"
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


# --- CheckInItem from the partner ---------------------------------------------------------


def partner_check_in(
    rt: Runtime, request: CheckInItemRequest, caller: Caller
) -> CheckInItemDone | NcipProblem:
    """The partner checked its item in: the loan is over for us.

    An item still on its way stops holding a compartment; one already inside a compartment is
    put on the staff list (it must be taken out and sent back). Repeats answer the same.
    The item is named by its barcode, or by the ILL request id when ItemIdentifierType says so.
    A partner credential only reaches that partner's loans.
    """
    now = rt.clock()
    if len(request.item) > _limit("item"):
        return NcipProblem(
            "Unknown Item",
            f"no item id here is longer than {_limit('item')} characters",
            "ItemId",
            request.item[: _limit("item")],
        )
    with unit_of_work(rt.sessions) as s:
        q = select(IllRequestRow).where(_names_item(request))
        partner = partner_of(caller, request.header)
        if partner is not None:
            q = q.where(IllRequestRow.partner == partner)
        rows = list(s.scalars(q.order_by(IllRequestRow.id.desc())))
        if not rows:
            return NcipProblem(
                "Unknown Item", "no inter-library loan has this item", "ItemId", request.item
            )
        row = next((r for r in rows if r.state in OPEN), rows[0])
        if row.state not in OPEN:
            return CheckInItemDone()
        row.state, row.closed_at = "cancelled", now
        row.patron = row.title = None
        transfers.arrived(s, row.ils_item)  # an item never arrived holds nothing any more
        audit(
            s,
            "ill_cancelled",
            at=now,
            bank_id=row.bank_id,
            actor=caller.label,
            item=row.ils_item,
            request=row.request_id,
        )
        inside = s.scalars(
            select(LoadRow).where(
                LoadRow.item_barcode == row.ils_item, LoadRow.state.in_(("reserved", "loaded"))
            )
        ).first()
        if inside is not None:
            audit(
                s,
                "staff_attention",
                at=now,
                bank_id=inside.bank_id,
                compartment=inside.compartment,
                actor=caller.label,
                item=row.ils_item,
                reason="the lending library checked this inter-library loan in: take it out",
            )
    return CheckInItemDone()


def _names_item(request: CheckInItemRequest) -> ColumnElement[bool]:
    """Which loans the CheckInItem's ItemId names: by the ILL request id when its
    ItemIdentifierType says it is one (a value with "request" in it, as ILL systems name
    that type), else by the partner's item id or the barcode staff scan."""
    if request.item_type and "request" in request.item_type.casefold():
        return IllRequestRow.request_id == request.item
    return or_(IllRequestRow.item == request.item, IllRequestRow.ils_item == request.item)


# --- the return, and telling the partner ---------------------------------------------------


# Run for every check-in the ILS confirms (most items are no ILL loan), so built once.
_OPEN_LOAN_OF_ITEM = (
    select(IllRequestRow)
    .where(IllRequestRow.ils_item == bindparam("item"), IllRequestRow.state == "accepted")
    .order_by(IllRequestRow.id.desc())  # the newest: an older one may have ended at a desk
    .limit(1)
)


def on_checked_in(rt: Runtime, s: Session, item_barcode: str, now: datetime) -> int | None:
    """Called in the returns worker's transaction when the ILS has taken a deposit back.

    When the item is an open ILL loan, marks it returned and queues the CheckInItem to its
    partner (dispatched once ``s`` commits; the sweeper covers a lost dispatch). Returns the
    loan's id, or None when the item is not an ILL item.
    """
    row = s.scalars(_OPEN_LOAN_OF_ITEM, {"item": item_barcode}).first()
    if row is None:
        return None
    row.state, row.returned_at = "returned", now
    ref = str(row.id)
    outbox.add(s, OUTBOX_KIND, ref=ref, now=now)
    audit(
        s,
        "ill_returned",
        at=now,
        bank_id=row.bank_id,
        item=item_barcode,
        request=row.request_id,
        partner=row.partner,
    )
    event.listen(
        s, "after_commit", lambda _session: outbox.dispatch(rt, OUTBOX_KIND, ref), once=True
    )
    return row.id


def tell_partner(rt: Runtime, claim: outbox.Claim) -> str:
    """Sends CheckInItem for one returned ILL loan (outbox ``ill_checkin``); returns what
    happened. Unreachable partners are retried with backoff; a refusal, a partner without an
    endpoint, or ``MAX_ATTEMPTS`` failures end on the staff list (audit ``ill_partner_not_told``).
    Other errors release the claim for a retry and are raised."""
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, int(claim.ref))
        if row is None or row.state != "returned":
            outbox.complete(s, claim, now=rt.clock())
            return "already done"
        partner_name, item, returned_at = row.partner, row.item, row.returned_at
        # The item is the lending library's: its own agency when it named one, else the partner.
        item_agency = row.item_agency or row.partner
        our_agency = row.to_agency
    partner = partner_for(rt.settings, partner_name)
    if partner is None or not partner.url:
        _not_told(rt, claim, f"no NCIP endpoint is configured for ILL partner {partner_name!r}")
        return "no endpoint"
    client = partner_client(rt, partner, partner.our_agency or our_agency or OUR_AGENCY)
    try:
        client.check_in_item(item=item, item_agency=item_agency, occurred_at=returned_at)
    except (IlsUnavailable, OutcomeUnknown, NcipMalformed) as exc:
        # CheckInItem is safe to repeat: the item is back either way.
        if claim.attempts >= MAX_ATTEMPTS:
            _not_told(rt, claim, f"gave up after {claim.attempts} attempts: {exc}")
            return "gave up"
        outbox.retry_later(rt, claim, f"{type(exc).__name__}: {exc}")
        return "retry"
    except IlsRejected as exc:
        _not_told(rt, claim, f"the partner refused: {exc}")
        return "refused"
    except Exception as exc:
        outbox.retry_later(rt, claim, f"{type(exc).__name__}: {exc}")
        raise
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, int(claim.ref))
        assert row is not None
        row.state, row.closed_at = "closed", now
        row.patron = row.title = None
        audit(
            s,
            "ill_closed",
            at=now,
            bank_id=row.bank_id,
            item=row.ils_item,
            request=row.request_id,
            partner=row.partner,
        )
        outbox.complete(s, claim, now=now)
    return "told"


def _not_told(rt: Runtime, claim: outbox.Claim, why: str) -> None:
    now = rt.clock()
    log.warning("ILL loan %s: partner not told: %s", claim.ref, why)
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, int(claim.ref))
        if row is not None:
            row.last_error = why[:300]
            audit(
                s,
                "ill_partner_not_told",
                at=now,
                bank_id=row.bank_id,
                item=row.ils_item,
                request=row.request_id,
                partner=row.partner,
                reason=why[:300],
            )
        outbox.give_up(s, claim, now=now, error=why)


# --- the responder's view ----------------------------------------------------------------


class IllHandler:
    """``ils_adapters.ncip.NcipHandler`` for one authenticated /ncip request."""

    def __init__(self, rt: Runtime, caller: Caller) -> None:
        self.rt = rt
        self.caller = caller

    def accept_item(self, request: AcceptItemRequest) -> AcceptItemDone | NcipProblem:
        return accept_item(self.rt, request, self.caller)

    def check_in_item(self, request: CheckInItemRequest) -> CheckInItemDone | NcipProblem:
        return partner_check_in(self.rt, request, self.caller)

    def lookup_version(self) -> tuple[str, ...]:
        return VERSIONS
