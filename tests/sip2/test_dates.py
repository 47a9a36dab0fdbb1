"""SIP2 dates become timezone-aware datetimes and back, in the ACS's zone or in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sip2.dates import format_date, parse_date

ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@settings(deadline=None)
@given(MOMENTS, ZONES)
def test_a_moment_written_and_read_back_is_the_same_instant(moment: datetime, zone: object) -> None:
    text = format_date(moment, server_tz=zone)  # type: ignore[arg-type]
    assert len(text) == 18
    assert parse_date(text, server_tz=zone or UTC) == moment  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        format_date(datetime(2024, 3, 1, 9, 15))


@pytest.mark.parametrize("text", [None, "", " " * 18, "garbage", "20241399    250000"])
def test_absent_blank_or_impossible_dates_read_as_none(text: str | None) -> None:
    assert parse_date(text) is None


def test_a_date_only_value_reads_as_midnight_in_the_servers_zone() -> None:
    tz = timezone(timedelta(hours=1))
    assert parse_date("20240310", server_tz=tz) == datetime(2024, 3, 10, tzinfo=tz)


TORONTO_TEST_ZONE = "America/Toronto"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Evergreen's due dates unless use_sip_date_format is set: the server's local time.
        ("2024-03-15 23:59:59", datetime(2024, 3, 16, 3, 59, 59, tzinfo=UTC)),
        ("2024-03-15T23:59:59", datetime(2024, 3, 16, 3, 59, 59, tzinfo=UTC)),
        ("2024-03-15 23:59:59.250", datetime(2024, 3, 16, 3, 59, 59, tzinfo=UTC)),
        ("2024-03-15T23:59:59-05:00", datetime(2024, 3, 16, 4, 59, 59, tzinfo=UTC)),
        ("2024-03-15T23:59:59+0100", datetime(2024, 3, 15, 22, 59, 59, tzinfo=UTC)),
        ("2024-03-15T23:59:59Z", datetime(2024, 3, 15, 23, 59, 59, tzinfo=UTC)),
        ("2024-03-15", datetime(2024, 3, 15, 4, 0, tzinfo=UTC)),
        ("20240315235959", datetime(2024, 3, 16, 3, 59, 59, tzinfo=UTC)),
        ("20240315 235959", datetime(2024, 3, 16, 3, 59, 59, tzinfo=UTC)),
    ],
)
def test_dates_in_other_real_formats_are_read(text: str, expected: datetime) -> None:
    from zoneinfo import ZoneInfo

    assert parse_date(text, server_tz=ZoneInfo(TORONTO_TEST_ZONE)) == expected


@pytest.mark.parametrize("text", ["2024-02-30 10:00:00", "2024-03-15 25:00:00", "15/03/2024"])
def test_impossible_or_unknown_other_formats_read_as_none(text: str) -> None:
    assert parse_date(text) is None
