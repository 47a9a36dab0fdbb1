"""SIP2 dates (``YYYYMMDDZZZZHHMMSS``) to and from timezone-aware datetimes.

The spec's ZZZZ is four blanks for the ACS's local time or a zone such as ``   Z`` for UTC.
Servers write blanks far more often than a zone, so the reader needs the ACS's zone: it is
passed in (``server_tz``), never taken from this machine's clock settings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_DATE = re.compile(
    r"\s*(\d{4})(\d{2})(\d{2})[\s]*(0000|[A-Z]{0,4})?[\s]*(\d{2})(\d{2})(\d{2})\s*\Z"
)
_UTC_NAMES = frozenset({"Z", "UTC", "GMT", "UT"})


def format_date(moment: datetime, *, server_tz: tzinfo | None = None) -> str:
    """Write ``moment`` as an 18-character SIP2 date.

    With ``server_tz`` the time is converted to that zone and written with four blank zone
    characters (the spec's "local time"), which is what Koha and Evergreen read (they ignore
    ZZZZ). Without it, the time is written in UTC with zone ``   Z``.
    Raises ValueError for a naive datetime: protocol code never guesses a zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("SIP2 dates need a timezone-aware datetime")
    if server_tz is not None:
        local = moment.astimezone(server_tz)
        return local.strftime("%Y%m%d") + "    " + local.strftime("%H%M%S")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y%m%d") + "   Z" + utc.strftime("%H%M%S")


def parse_date(text: str | None, *, server_tz: tzinfo = UTC) -> datetime | None:
    """Read a SIP2 date leniently; None for absent, blank or unreadable dates.

    Blank, ``0000`` or unknown zones mean the ACS's local time (``server_tz``); Z/UTC/GMT mean
    UTC. Collapsed blanks, a tab in the zone and surrounding blanks are accepted. A date-only
    value (``YYYYMMDD``, some ACSs send that in AH/CM) is read as midnight in ``server_tz``.
    """
    if text is None or not text.strip():
        return None
    match = _DATE.match(text)
    if match is None:
        day = re.fullmatch(r"\s*(\d{4})(\d{2})(\d{2})\s*", text)
        if day is None:
            return None
        try:
            y, m, d = (int(g) for g in day.groups())
            return datetime(y, m, d, tzinfo=server_tz)
        except ValueError:
            return None
    year, month, dayn, zone, hour, minute, second = match.groups()
    tz = UTC if (zone or "") in _UTC_NAMES else server_tz
    try:
        return datetime(
            int(year), int(month), int(dayn), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        return None
