"""Ways real SIP2 servers differ from the spec that a site meets on day one, as switchable
modes of the reference ACS (set at construction; the flow tests run against each).

- ``zone``: the server's local time zone. Its dates carry a blank zone field, so a client
  that reads them as UTC is off by the offset; backdated return dates are read in it.
- ``iso_dates``: due and hold-shelf dates (AH, CM, CJ) as ``YYYY-MM-DD HH:MM:SS``, as
  Evergreen writes them unless ``use_sip_date_format`` is set.
- ``status_says_no``: 98 answers checkin ok = N and checkout ok = N while the server goes on
  circulating (real servers send N for policy reasons).
- ``workers``: at most this many connections are served at once, one session per worker
  like a pre-forking server; further clients are accepted by the kernel and wait for a
  worker without an answer, even to their login.
- ``drop_on_unknown_item``: a 17, 09 or 11 for a barcode not in the catalogue closes the
  connection without a reply (a worker dying on it).
- ``list_page``: a 64 lists at most this many items of the list its 63 asked for, from BP
  (the first when left out), whatever BQ says; the count in the fixed part stays the whole
  list's. A client reads a long list by asking again from the next position.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from sip2.codec import Message
from sip2.dates import parse_date

ISO_DATE_FIELDS = frozenset({"AH", "CM", "CJ"})
ITEM_REQUESTS = frozenset({"17", "09", "11"})


@dataclass(frozen=True)
class Modes:
    zone: tzinfo = UTC
    iso_dates: bool = False
    status_says_no: bool = False
    workers: int | None = None
    drop_on_unknown_item: bool = False
    list_page: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.list_page is not None and self.list_page < 1:
            raise ValueError("list_page must be at least 1")

    def paged(self, request: Message) -> Message:
        """A 63 as a server in these modes serves it: BQ no further than one page from BP."""
        if self.list_page is None or request.command != "63":
            return request
        try:
            start = max(1, int((request.first("BP") or "").strip() or "1"))
        except ValueError:
            start = 1
        last = start + self.list_page - 1
        try:
            asked = int((request.first("BQ") or "").strip())
        except ValueError:
            asked = last
        end = min(last, asked) if asked > 0 else last
        fields = (*(pair for pair in request.fields if pair[0] != "BQ"), ("BQ", str(end)))
        return Message(request.command, request.fixed, fields)

    def rewrite(self, reply: Message) -> Message:
        """The reply as a server in these modes writes it."""
        fixed, fields = reply.fixed, reply.fields
        if self.status_says_no and reply.command == "98":
            fixed = tuple(
                (name, "N" if name in ("checkin_ok", "checkout_ok") else value)
                for name, value in fixed
            )
        if self.iso_dates:
            fields = tuple((code, self._iso(code, value)) for code, value in fields)
        if fixed is reply.fixed and fields is reply.fields:
            return reply
        return Message(reply.command, fixed, fields)

    def _iso(self, code: str, value: str) -> str:
        if code not in ISO_DATE_FIELDS or not value:
            return value
        moment = parse_date(value, server_tz=self.zone)
        if moment is None:
            return value
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")


# The modes the flow tests run against, by name (``lockerbridge acs --mode``).
PRESETS: dict[str, Modes] = {
    "plain": Modes(),
    "local-zone": Modes(zone=ZoneInfo("America/Toronto")),
    "iso-dates": Modes(zone=ZoneInfo("America/Toronto"), iso_dates=True),
    "status-says-no": Modes(status_says_no=True),
    "one-worker": Modes(workers=1),
    "drops-unknown": Modes(drop_on_unknown_item=True),
    "paged-lists": Modes(list_page=10),
}


def preset(name: str, **changes: object) -> Modes:
    """A named preset, optionally changed. Raises ValueError for an unknown name."""
    try:
        modes = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown ACS mode {name!r}: use one of {sorted(PRESETS)}") from None
    return replace(modes, **changes)  # type: ignore[arg-type]
