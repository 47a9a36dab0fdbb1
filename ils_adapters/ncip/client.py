"""A thin blocking NCIP initiator over HTTP POST (requests), timeouts always on.

Transport failures are translated at this boundary:

* cannot connect, connect timeout, HTTP 502/503/504 -> IlsUnavailable (nothing applied);
* read timeout or another 5xx on a state-changing service -> OutcomeUnknown (verify first);
  on a lookup -> IlsUnavailable;
* HTTP 4xx -> IlsRejected (usually authentication: fix the configuration);
* Problem elements -> NcipRejected (also one with an empty ProblemType, as FOLIO sends them),
  except "Temporary Processing Failure" -> IlsUnavailable;
* a body that is not the expected response -> NcipMalformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown
from ils_adapters.ncip import requests as req
from ils_adapters.ncip.errors import NcipMalformed, NcipRejected
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CancelRequestItemResult,
    CheckInItemResult,
    CheckOutItemResult,
    LookupItemResult,
    LookupUserResult,
    LookupVersionResult,
    Problems,
    RenewItemResult,
    RequestItemResult,
    parse_response,
)
from ils_adapters.ncip.xml import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    # Imported when a client is made: the web process, which only answers NCIP, would carry
    # requests and urllib3 (about 5 MiB resident) for nothing.
    import requests

R = TypeVar("R")

_UNAVAILABLE_STATUS = {502, 503, 504}


class NcipClient:
    """Talks to one NCIP responder. ``header`` names us (from) and the responder (to).

    ``timeout`` is (connect, read) seconds. ``headers`` are sent with every request (e.g. a
    shared-secret header). Pass ``session`` to reuse connections or to set client certs.
    """

    def __init__(
        self,
        url: str,
        header: req.Header,
        *,
        timeout: tuple[float, float] = (3.05, 15.0),
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES * 4,
    ) -> None:
        self.url = url
        self.header = header
        self.timeout = timeout
        self._headers = {"Content-Type": "application/xml; charset=utf-8", **(headers or {})}
        if session is None:
            import requests

            session = requests.Session()
        self._session = session
        self._max_bytes = max_bytes

    # --- services -------------------------------------------------------------------------

    def lookup_version(self) -> LookupVersionResult:
        return self._call(req.build_lookup_version(self.header), LookupVersionResult, False)

    def lookup_user(
        self, user: str, *, loaned_items: bool = False, requested_items: bool = False
    ) -> LookupUserResult:
        body = req.build_lookup_user(
            self.header, user, loaned_items=loaned_items, requested_items=requested_items
        )
        return self._call(body, LookupUserResult, False)

    def lookup_item(self, item: str) -> LookupItemResult:
        return self._call(req.build_lookup_item(self.header, item), LookupItemResult, False)

    def accept_item(
        self,
        *,
        request: str,
        user: str | None,
        item: str | None,
        pickup_location: str | None,
        title: str | None = None,
        author: str | None = None,
        pickup_expiry: datetime | None = None,
        date_for_return: datetime | None = None,
    ) -> AcceptItemResult:
        body = req.build_accept_item(
            self.header,
            request=request,
            request_agency=self.header.from_agency,
            user=user,
            item=item,
            pickup_location=pickup_location,
            title=title,
            author=author,
            pickup_expiry=pickup_expiry,
            date_for_return=date_for_return,
        )
        return self._call(body, AcceptItemResult, True)

    def request_item(
        self,
        *,
        user: str,
        item: str | None = None,
        bib_record: str | None = None,
        bib_agency: str | None = None,
        request: str | None = None,
        pickup_location: str | None = None,
        request_type: str = "Hold",
    ) -> RequestItemResult:
        body = req.build_request_item(
            self.header,
            user=user,
            item=item,
            bib_record=bib_record,
            bib_agency=bib_agency,
            request=request,
            request_agency=self.header.from_agency if request else None,
            pickup_location=pickup_location,
            request_type=request_type,
            scope="Item" if item else "Bibliographic Item",
        )
        return self._call(body, RequestItemResult, True)

    def cancel_request_item(
        self, *, user: str, request: str | None = None, item: str | None = None
    ) -> CancelRequestItemResult:
        body = req.build_cancel_request_item(
            self.header,
            user=user,
            request=request,
            request_agency=self.header.from_agency if request else None,
            item=item,
        )
        return self._call(body, CancelRequestItemResult, True)

    def check_out_item(
        self, *, user: str, item: str, desired_due: datetime | None = None
    ) -> CheckOutItemResult:
        body = req.build_check_out_item(self.header, user=user, item=item, desired_due=desired_due)
        return self._call(body, CheckOutItemResult, True)

    def check_in_item(
        self, *, item: str, item_agency: str | None = None, occurred_at: datetime | None = None
    ) -> CheckInItemResult:
        body = req.build_check_in_item(
            self.header, item=item, item_agency=item_agency, occurred_at=occurred_at
        )
        return self._call(body, CheckInItemResult, True)

    def renew_item(
        self, *, user: str, item: str, desired_due: datetime | None = None
    ) -> RenewItemResult:
        body = req.build_renew_item(self.header, user=user, item=item, desired_due=desired_due)
        return self._call(body, RenewItemResult, True)

    # --- transport ------------------------------------------------------------------------

    def _call(self, body: bytes, expected: type[R], changes_state: bool) -> R:
        import requests  # loaded by __init__ already; this only binds the name

        try:
            response = self._session.post(
                self.url, data=body, headers=self._headers, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.ConnectTimeout) as exc:
            if isinstance(exc, requests.ReadTimeout):  # (ReadTimeout is not a ConnectionError)
                raise  # pragma: no cover
            raise IlsUnavailable(f"NCIP responder not reachable: {exc}") from exc
        except requests.Timeout as exc:
            if changes_state:
                raise OutcomeUnknown(f"no NCIP reply within {self.timeout[1]} s") from exc
            raise IlsUnavailable(f"no NCIP reply within {self.timeout[1]} s") from exc
        except requests.RequestException as exc:
            raise IlsUnavailable(f"NCIP request failed: {exc}") from exc
        return self._read(response, expected, changes_state)

    def _read(self, response: requests.Response, expected: type[R], changes_state: bool) -> R:
        status = response.status_code
        if status in _UNAVAILABLE_STATUS or (status >= 500 and not changes_state):
            raise IlsUnavailable(f"NCIP responder answered HTTP {status}")
        if status >= 500:
            raise OutcomeUnknown(f"NCIP responder failed with HTTP {status}; verify first")
        if status >= 400:
            raise IlsRejected(f"NCIP responder refused the request with HTTP {status}")
        result = parse_response(response.content, max_bytes=self._max_bytes)
        if isinstance(result, Problems):
            if any(p.type == "Temporary Processing Failure" for p in result.problems):
                raise IlsUnavailable(f"NCIP responder is temporarily unable: {result.problems}")
            raise NcipRejected(result.service, result.problems)
        if not isinstance(result, expected):
            raise NcipMalformed(f"expected {expected.__name__}, got {type(result).__name__}")
        return result
