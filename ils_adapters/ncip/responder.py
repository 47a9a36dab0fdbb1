"""The NCIP responder core: bytes in, bytes out, no HTTP.

The Flask route authenticates the caller (``check_shared_secret`` or a client certificate),
then passes the body to :func:`handle` and returns its bytes with HTTP 200 (NCIP reports
errors as Problem elements, not HTTP status codes).

We answer AcceptItem (an ILL item arrives for pickup at a locker bank), CheckInItem and
LookupVersion (in the version-discovery form). Any other NCIP service, and any NCIP version 1
message, gets the Problem "Unsupported Service"; malformed, oversized or entity-carrying bodies
get "Invalid Message Syntax Error"; a required element missing gets "Needed Data Missing" and an
impossible date "Invalid Date", both inside the service's response. None of these reach the
handler. Every Problem is sent with the scheme that defines its type (``schemes``).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Protocol

from ils_adapters.base import IlsUnavailable, OutcomeUnknown
from ils_adapters.ncip.errors import NcipMalformed
from ils_adapters.ncip.requests import (
    AcceptItemRequest,
    CheckInItemRequest,
    LookupVersionRequest,
    OtherRequest,
    parse_request,
)
from ils_adapters.ncip.responses import (
    NcipProblem,
    build_accept_item_response,
    build_check_in_item_response,
    build_lookup_version_response,
    build_problem_response,
)
from ils_adapters.ncip.xml import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcceptItemDone:
    """The item the ILS now knows (a temporary ILL item) and its agency, if it says."""

    item: str | None
    item_agency: str | None = None


@dataclass(frozen=True)
class CheckInItemDone:
    user: str | None = None


class NcipHandler(Protocol):
    """What the responder needs from the application. Return an NcipProblem to refuse
    (e.g. NcipProblem("Unknown Item")); raise IlsUnavailable when the ILS is down."""

    def accept_item(self, request: AcceptItemRequest) -> AcceptItemDone | NcipProblem: ...

    def check_in_item(self, request: CheckInItemRequest) -> CheckInItemDone | NcipProblem: ...

    def lookup_version(self) -> tuple[str, ...]: ...


def handle(body: bytes, handler: NcipHandler, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Answer one NCIP request. Always returns a response message; never raises for bad
    input. Exceptions other than IlsUnavailable / OutcomeUnknown from the handler are bugs
    and propagate."""
    try:
        request = parse_request(body, max_bytes=max_bytes)
    except NcipMalformed as exc:
        log.info("NCIP request refused: %s", exc)
        problem = NcipProblem(exc.problem, str(exc), exc.element, exc.value)
        return build_problem_response(exc.service, (problem,))

    reply_header = request.header.reversed() if request.header else None
    if isinstance(request, OtherRequest):
        problem = NcipProblem(
            "Unsupported Service", f"{request.service} is not offered here", element=request.service
        )
        return build_problem_response(request.service, (problem,), reply_header)
    if isinstance(request, LookupVersionRequest):
        return build_lookup_version_response(reply_header, handler.lookup_version())

    service = "AcceptItem" if isinstance(request, AcceptItemRequest) else "CheckInItem"
    try:
        if isinstance(request, AcceptItemRequest):
            accepted = handler.accept_item(request)
            if isinstance(accepted, NcipProblem):
                return build_problem_response(service, (accepted,), reply_header)
            return build_accept_item_response(
                reply_header,
                request=request.request,
                request_agency=request.request_agency,
                item=accepted.item,
                item_agency=accepted.item_agency,
            )
        checked_in = handler.check_in_item(request)
        if isinstance(checked_in, NcipProblem):
            return build_problem_response(service, (checked_in,), reply_header)
        return build_check_in_item_response(
            reply_header, item=request.item, item_agency=request.item_agency, user=checked_in.user
        )
    except (IlsUnavailable, OutcomeUnknown) as exc:
        problem = NcipProblem("Temporary Processing Failure", "catalogue not reachable; retry")
        log.warning("NCIP %s could not reach the ILS: %s", service, exc)
        return build_problem_response(service, (problem,), reply_header)


def check_shared_secret(header_value: str | None, secret: str) -> bool:
    """Constant-time comparison of an NCIP shared-secret header against the configured one.
    An unset (empty) secret never matches, so a missing configuration cannot open the door."""
    if not secret or header_value is None:
        return False
    return hmac.compare_digest(header_value.strip().encode(), secret.encode())
