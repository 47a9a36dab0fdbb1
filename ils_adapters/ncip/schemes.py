"""Which NCIP scheme each Problem type belongs to.

NCIP names a Problem by a value *and* the scheme that defines it (the ``Scheme`` attribute of
ProblemType). The values we send come from the NCIP version 1 schemes that NCIP 2 keeps using:
the messaging errors (the message itself is unusable), the general processing errors (any
service), and one scheme per service for that service's own refusals. A partner's software
may look a value up in the scheme we name, so each value is sent with the scheme that holds it.
"""

from __future__ import annotations

_BASE = "http://www.niso.org/ncip/v1_0/schemes/"

MESSAGING = _BASE + "messagingerrortype/messagingerrortype.scm"
GENERAL = _BASE + "processingerrortype/generalprocessingerror.scm"
ACCEPT_ITEM = _BASE + "processingerrortype/acceptitemprocessingerror.scm"
CHECK_IN_ITEM = _BASE + "processingerrortype/checkinitemprocessingerror.scm"

_MESSAGING_TYPES = frozenset(
    {
        "Invalid Message Syntax Error",
        "Protocol Error",
        "Unknown Element",
        "Unknown Scheme",
        "Unknown Service",
        "Unknown Value From Known Scheme",
    }
)
_GENERAL_TYPES = frozenset(
    {
        "Agency Authentication Failed",
        "Invalid Amount",
        "Invalid Date",
        "Needed Data Missing",
        "System Authentication Failed",
        "Temporary Processing Failure",
        "Unauthorized Combination Of Element Values For Agency",
        "Unauthorized Combination Of Element Values For System",
        "Unauthorized Service For Agency",
        "Unauthorized Service For System",
        "Unknown Agency",
        "Unknown System",
        "Unsupported Service",
    }
)
_BY_SERVICE = {
    "AcceptItem": (
        ACCEPT_ITEM,
        frozenset(
            {
                "Cannot Accept Item",
                "Cannot Guarantee Restrictions On Use",
                "Element Rule Violated",
                "Unknown Item",
                "Unknown Request",
                "Unknown User",
                "User Ineligible To Check Out This Item",
            }
        ),
    ),
    "CheckInItem": (CHECK_IN_ITEM, frozenset({"Item Not Checked Out", "Unknown Item"})),
}


def scheme_for(service: str | None, problem_type: str) -> str | None:
    """The scheme defining ``problem_type`` as answered to ``service``; None when we know of
    none (a value passed on from a catalogue that uses its own words)."""
    if problem_type in _MESSAGING_TYPES:
        return MESSAGING
    if problem_type in _GENERAL_TYPES:
        return GENERAL
    own = _BY_SERVICE.get(service or "")
    if own is not None and problem_type in own[1]:
        return own[0]
    return None
