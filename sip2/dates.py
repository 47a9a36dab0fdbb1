"""SIP2 dates (``YYYYMMDDZZZZHHMMSS``) to and from timezone-aware datetimes.

The spec's ZZZZ is four blanks for the ACS's local time or a zone such as ``   Z`` for UTC.
Servers write blanks far more often than a zone, so the reader needs the ACS's zone: it is
passed in (``server_tz``), never taken from this machine's clock settings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_DATE = re.compile(
    r"\s*(\d{4})(\d{2})(\d{2})[\s]*(0000|[A-Z]{0,4})?[\s]*(\d{2})(\d{2})(\d{2})\s*\Z"
)
# Dates servers write instead of the SIP2 form: Evergreen's due dates without its
# use_sip_date_format option (``2024-03-15 23:59:59``), ISO 8601 with ``T``, fractions or an
# offset (``2024-03-15T23:59:59-04:00``, ``...Z``), and a bare ``2024-03-15``.
_ISO = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ]+(\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*\Z"
)
_DAY = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*")
_UTC_NAMES = frozenset({"Z", "UTC", "GMT", "UT"})


def format_date(moment: datetime, *, server_tz: tzinfo | None = None) -> str:
    """Write ``moment`` as an 18-character SIP2 date.

    With ``server_tz`` the time is converted to that zone and written with four blank zone
    characters (the spec's "local time"), which is what Koha and Evergreen read (they ignore
    ZZZZ). Without it, the time is written in UTC with zone ``   Z``.
    Raises ValueError for a naive datetime: protocol code never guesses a zone.
    """
    if moment.utcoffset() is None:
        raise ValueError("SIP2 dates need a timezone-aware datetime")
    if server_tz is None:
        t, zone = moment.astimezone(UTC), "   Z"
    else:
        t, zone = moment.astimezone(server_tz), "    "
    # Not strftime("%Y"): it does not pad years before 1000 to four digits on every platform.
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{zone}{t.hour:02d}{t.minute:02d}{t.second:02d}"


def parse_date(text: str | None, *, server_tz: tzinfo = UTC) -> datetime | None:
    """Read a SIP2 date leniently; None for absent, blank or unreadable dates.

    Blank, ``0000`` or unknown zones mean the ACS's local time (``server_tz``); Z/UTC/GMT mean
    UTC. Collapsed blanks, a tab in the zone and surrounding blanks are accepted. A date-only
    value (``YYYYMMDD``, some ACSs send that in AH/CM) is read as midnight in ``server_tz``.
    ``YYYY-MM-DD HH:MM:SS`` (Evergreen's due dates unless ``use_sip_date_format`` is set) and
    other ISO 8601 forms are read too: without an offset in ``server_tz``, with one as given.
    """
    if text is None or not text.strip():
        return None
    match = _DATE.match(text)
    if match is None:
        iso = _ISO.match(text)
        if iso is not None:
            return _from_iso(iso, server_tz)
        day = _DAY.fullmatch(text)
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


def _from_iso(match: re.Match[str], server_tz: tzinfo) -> datetime | None:
    year, month, day, hour, minute, second, zone = match.groups()
    tz: tzinfo = server_tz
    if zone in _UTC_NAMES:
        tz = UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        try:
            tz = timezone(sign * offset)
        except ValueError:
            return None
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None
