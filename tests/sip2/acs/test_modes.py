"""The reference ACS's modes, each imitating something real servers do, seen through our client
over real TCP; and return dates that survive the trip to a server in any time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sip2.acs.catalogue import Item, ItemStatus
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from sip2.dates import format_date
from sip2.errors import IlsUnavailable
from sip2.results import Summary
from tests.sip2.acs.support import BEN, BOOK_HOLD_HERE, LOANED, NOW, small_catalogue

MAIN = SipAccount("lockers-main", "demo-main", location="MAIN-LOCKER", institution="DEMO")
EAST = SipAccount("lockers-east", "demo-east", location="EAST-LOCKER", institution="DEMO")
TORONTO = ZoneInfo("America/Toronto")


def _server(acs: ReferenceACS, zone: tzinfo | None = None, **over: object) -> ServerConfig:
    host, port = acs.address
    values: dict[str, object] = {
        "host": host,
        "port": port,
        "request_timeout": 2.0,
        "heartbeat_interval": None,
        "server_tz": zone,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    values.update(over)
    return ServerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[ReferenceACS] = []

    def start(modes: Modes) -> ReferenceACS:
        acs = ReferenceACS(small_catalogue(), clock=lambda: NOW, modes=modes)
        acs.start()
        started.append(acs)
        return acs

    yield start
    for acs in started:
        acs.stop()


# --- time zones ---------------------------------------------------------------------------

# Instants near the DST changes of several zones (both hemispheres, half-hour shifts), and
# anywhere else.
_CHANGES = [
    datetime(2025, 3, 9, 10, tzinfo=UTC),  # North America, spring
    datetime(2025, 11, 2, 9, tzinfo=UTC),  # North America, autumn
    datetime(2025, 3, 30, 1, tzinfo=UTC),  # Europe, spring
    datetime(2025, 10, 26, 1, tzinfo=UTC),  # Europe, autumn
    datetime(2025, 4, 5, 15, tzinfo=UTC),  # Australia (Lord Howe: 30 minutes), autumn
    datetime(2025, 10, 4, 15, tzinfo=UTC),  # Australia, spring
]
NEAR_CHANGES = st.builds(
    lambda base, seconds: base + timedelta(seconds=seconds),
    st.sampled_from(_CHANGES),
    st.integers(min_value=-3 * 3600, max_value=3 * 3600),
)
ANY_TIME = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
ZONES = st.one_of(
    st.sampled_from(
        [
            "America/Los_Angeles",
            "America/Toronto",
            "America/St_Johns",
            "Europe/Berlin",
            "Australia/Lord_Howe",
            "Australia/Sydney",
            "Pacific/Chatham",
            "UTC",
        ]
    ).map(ZoneInfo),
    st.timezones(),
)


def _ambiguous(moment: datetime, zone: tzinfo) -> bool:
    """The local time happens twice (the hour repeated when clocks go back)."""
    local = moment.astimezone(zone)
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


@pytest.fixture(scope="module")
def tz_acs() -> Iterator[ReferenceACS]:
    with ReferenceACS(small_catalogue(), clock=lambda: NOW) as acs:
        yield acs


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(moment=st.one_of(NEAR_CHANGES, ANY_TIME), zone=ZONES)
def test_a_return_date_reaches_a_server_in_any_zone_as_the_same_instant(
    tz_acs: ReferenceACS, moment: datetime, zone: tzinfo
) -> None:
    tz_acs.engine.zone = zone  # the server's local zone, as the configuration tells ours
    with SipClient.for_server(_server(tz_acs, zone), MAIN, max_connections=1) as client:
        client.checkin(PLAIN_ITEM, location="MAIN-LOCKER", returned_at=moment)
    entry = tz_acs.ledger.checkins(PLAIN_ITEM)[-1]
    local = moment.astimezone(zone)
    # On the wire: the server's wall-clock time with a blank zone, as Koha and Evergreen read.
    assert entry.return_date_text == local.strftime("%Y%m%d    %H%M%S")
    assert entry.return_date is not None
    if _ambiguous(moment, zone):
        # A wall-clock time from the repeated hour names two instants; the server takes one.
        assert entry.return_date.replace(tzinfo=None) == local.replace(tzinfo=None)
        assert abs(entry.return_date - moment) <= timedelta(hours=1)
    else:
        assert entry.return_date == moment


PLAIN_ITEM = LOANED


def test_blank_zone_dates_from_a_server_in_toronto_are_read_in_toronto(serve: object) -> None:
    acs = serve(Modes(zone=TORONTO))  # type: ignore[operator]
    with SipClient.for_server(_server(acs, TORONTO), MAIN) as client:
        status = client.sc_status()
        info = client.item_information(LOANED)
    assert status.date_time_sync == NOW
    item = acs.catalogue.item(LOANED)
    assert item is not None and item.due is not None and info.due_date is not None
    assert info.due_date == item.due  # read as UTC it would be 5 hours off


def test_evergreens_non_sip_due_dates_are_read(serve: object) -> None:
    acs = serve(Modes(zone=TORONTO, iso_dates=True))  # type: ignore[operator]
    with SipClient.for_server(_server(acs, TORONTO), MAIN) as client:
        info = client.item_information(LOANED)
    [due] = [v for code, v in info.raw_fields if code == "AH"]
    assert len(due) == 19 and due[4] == "-" and due[10] == " "
    assert info.due_date is not None and info.due_date.tzinfo is not None
    assert info.due_date.strftime("%Y-%m-%d %H:%M:%S") == due
    assert info.due_date.utcoffset() == TORONTO.utcoffset(info.due_date.replace(tzinfo=None))


def test_dates_go_out_in_utc_for_a_server_that_reads_the_zone(serve: object) -> None:
    acs = serve(Modes(zone=TORONTO))  # type: ignore[operator]
    moment = datetime(2025, 7, 1, 3, 30, tzinfo=UTC)
    config = _server(acs, TORONTO, dates_in_utc=True)
    with SipClient.for_server(config, MAIN) as client:
        client.checkin(LOANED, location="MAIN-LOCKER", returned_at=moment)
    [entry] = acs.ledger.checkins(LOANED)
    assert entry.return_date_text == format_date(moment) == "20250701   Z033000"
    assert entry.return_date == moment


# --- the other modes ----------------------------------------------------------------------


def test_a_server_saying_n_n_in_its_status_still_checks_items_in(serve: object) -> None:
    acs = serve(Modes(status_says_no=True))  # type: ignore[operator]
    with SipClient.for_server(_server(acs), MAIN) as client:
        status = client.sc_status()
        result = client.checkin(LOANED, location="MAIN-LOCKER", returned_at=NOW)
    assert (status.checkin_ok, status.checkout_ok) == (False, False)
    assert result.ok is True


def test_one_worker_makes_a_second_client_wait_until_the_first_leaves(serve: object) -> None:
    acs = serve(Modes(workers=1))  # type: ignore[operator]
    first = SipClient.for_server(_server(acs), MAIN, max_connections=1)
    first.sc_status()
    second = SipClient.for_server(_server(acs, request_timeout=0.5), EAST, max_connections=1)
    started = time.monotonic()
    with pytest.raises(IlsUnavailable):
        second.sc_status()  # connected, but no worker answers its login
    assert time.monotonic() - started >= 0.4
    first.close()
    assert second.sc_status().online is not False
    second.close()


def test_a_worker_that_drops_the_connection_on_an_unknown_barcode(serve: object) -> None:
    acs = serve(Modes(drop_on_unknown_item=True))  # type: ignore[operator]
    with SipClient.for_server(_server(acs), MAIN) as client:
        with pytest.raises(IlsUnavailable):
            client.item_information("NO-SUCH-ITEM")
        assert client.item_information(BOOK_HOLD_HERE).title  # a new connection serves on


def _lend_many(acs: ReferenceACS, patron: str, count: int) -> list[str]:
    """``count`` more items on loan to ``patron``, in the order the ACS lists them."""
    cat = acs.catalogue
    barcodes = [f"LOAN{n:03d}" for n in range(count)]
    with acs.engine.lock:
        for barcode in barcodes:
            cat.put(
                Item(
                    barcode,
                    barcode,
                    "MAIN",
                    "MAIN",
                    status=ItemStatus.CHARGED,
                    charged_to=patron,
                    due=NOW,
                )
            )
    return [i.barcode for i in cat.loans_of(patron)]


def test_a_range_of_the_charged_items_is_served_as_asked(serve: object) -> None:
    acs = serve(Modes())  # type: ignore[operator]
    loans = _lend_many(acs, BEN, 5)
    with SipClient.for_server(_server(acs), MAIN) as client:
        everything = client.patron_information(BEN, summary=Summary.CHARGED_ITEMS)
        middle = client.patron_information(
            BEN, summary=Summary.CHARGED_ITEMS, start_item=2, end_item=4
        )
        past_the_end = client.patron_information(
            BEN, summary=Summary.CHARGED_ITEMS, start_item=7, end_item=9
        )
    assert everything.charged_items == tuple(loans) and len(loans) == 6
    assert middle.charged_items == tuple(loans[1:4])
    assert past_the_end.charged_items == ()
    assert middle.charged_items_count == past_the_end.charged_items_count == 6


def test_a_server_that_pages_its_lists_sends_one_page_and_counts_them_all(serve: object) -> None:
    acs = serve(Modes(list_page=4))  # type: ignore[operator]
    loans = _lend_many(acs, BEN, 9)
    with SipClient.for_server(_server(acs), MAIN) as client:
        first = client.patron_information(BEN, summary=Summary.CHARGED_ITEMS)
        wide = client.patron_information(
            BEN, summary=Summary.CHARGED_ITEMS, start_item=5, end_item=9999
        )
        last = client.patron_information(
            BEN, summary=Summary.CHARGED_ITEMS, start_item=9, end_item=9999
        )
    assert first.charged_items == tuple(loans[:4])
    assert wide.charged_items == tuple(loans[4:8])  # BQ past the page is cut to it
    assert last.charged_items == tuple(loans[8:])
    assert first.charged_items_count == wide.charged_items_count == 10


def test_modes_that_change_nothing_keep_the_reply(serve: object) -> None:
    acs = serve(Modes())  # type: ignore[operator]
    with SipClient.for_server(_server(acs), MAIN) as client:
        assert client.sc_status().checkin_ok is True
