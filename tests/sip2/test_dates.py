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
