"""NCIP 2 (NISO Z39.83): sans-I/O messages, a thin HTTP client, and the responder core."""

from ils_adapters.ncip.client import NcipClient
from ils_adapters.ncip.errors import NcipMalformed, NcipRejected
from ils_adapters.ncip.requests import (
    AcceptItemRequest,
    CheckInItemRequest,
    Header,
    LookupVersionRequest,
    OtherRequest,
    parse_request,
)
from ils_adapters.ncip.responder import (
    AcceptItemDone,
    CheckInItemDone,
    NcipHandler,
    check_shared_secret,
    handle,
)
from ils_adapters.ncip.responses import NcipProblem, Problems, parse_response

__all__ = [
    "AcceptItemDone",
    "AcceptItemRequest",
    "CheckInItemDone",
    "CheckInItemRequest",
    "Header",
    "LookupVersionRequest",
    "NcipClient",
    "NcipHandler",
    "NcipMalformed",
    "NcipProblem",
    "NcipRejected",
    "OtherRequest",
    "Problems",
    "check_shared_secret",
    "handle",
    "parse_request",
    "parse_response",
]
