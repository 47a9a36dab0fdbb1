"""Frames shaped like the SIP2 specification's examples and like real ACSs' quirks decode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sip2.codec import decode
from sip2.results import (
    AcsStatus,
    AlertType,
    CheckinResult,
    CirculationStatus,
    ItemInformation,
    PatronInformation,
)

# Shaped after the specification's examples (values from its example tables).
SPEC_EXAMPLES = [
    b"9300CNLoginUserID|COLoginPassword|CPLocationCode|",
    b"9900302.00",
    b"09N19980821    08572119980821    085721APCertification Terminal Location"
    b"|AOCertification Institute ID|ABCheckInBook|ACTPWord|BIN|",
    b"11YN19960212    10051419960212    100514AO|AA104000000105|AB000000000005792|AC|",
    b"101YNN19960212    100924AO|AB000000000005792|AQ|AJ|AA104000000105|CK001|",
    b"98YYYNYN01000319960214    1447002.00AOID_21|AMCentral Library|ANtty30"
    b"|AFScreen Message|AGPrint Message|",
    b"6300119960212    100239          AO|AA104000000105|AC|AD1234|",
    b"2300119960212    100239AOid_21|AA104000000105|AC|AD|",
    b"941AY3AZFDFA",
]


@pytest.mark.parametrize("frame", SPEC_EXAMPLES)
def test_frames_shaped_like_the_spec_examples_decode(frame: bytes) -> None:
    decoded = decode(frame)
    assert decoded.message.command == frame[:2].decode()
    assert decoded.message.fixed  # the fixed part was read
    assert not [p for p in decoded.problems if "could not recover" in p]


def test_the_spec_checkin_example_without_its_return_date_keeps_what_it_has() -> None:
    decoded = decode(
        b"09N19980821    085721APCertification Terminal Location|AOCertification Institute ID"
        b"|ABCheckInBook|ACTPWord|BIN|"
    )
    assert decoded.message.fixed_value("transaction_date") == "19980821    085721"
    assert decoded.message.first("AB") == "CheckInBook"
    assert any("return_date" in p for p in decoded.problems)


CHECKIN_REPLY = (
    b"101YNY20240301    101500AOMAIN|ABI-1001|AQMAIN|AJA title|CV02|CTBRANCH2|CY2001"
    b"|DAJane Doe (jane@example.org)|ZXvendor value|AFHold for BRANCH2|"
)


def test_checkin_reply_keeps_cv_ct_cy_da_and_vendor_fields_that_pysip2_drops() -> None:
    result = CheckinResult.from_decoded(decode(CHECKIN_REPLY))
    assert result.ok is True
    assert result.alert is True
    assert result.alert_type is AlertType.HOLD_ELSEWHERE
    assert result.destination_location == "BRANCH2"
    assert result.hold_patron_id == "2001"
    assert result.hold_patron_name == "Jane Doe (jane@example.org)"
    assert ("ZX", "vendor value") in result.raw_fields
    assert result.screen_messages == ("Hold for BRANCH2",)
    assert "Jane" not in repr(result)  # personal data stays out of logs


@pytest.mark.parametrize(
    "frame",
    [
        CHECKIN_REPLY + b"\r\n",  # CR LF
        b"\n" + CHECKIN_REPLY + b"\r",  # stray LF before the frame
        CHECKIN_REPLY[:-1],  # last field without its "|"
        CHECKIN_REPLY.replace(b"|AJA title", b"||AJA title"),  # an empty segment
    ],
)
def test_checkin_reply_framing_variants_decode_the_same(frame: bytes) -> None:
    result = CheckinResult.from_decoded(decode(frame))
    assert result.alert_type is AlertType.HOLD_ELSEWHERE
    assert result.destination_location == "BRANCH2"
    assert result.title == "A title"


def test_fields_in_any_order_and_missing_required_ones_still_decode() -> None:
    decoded = decode(b"100NNN20240301    101500CV01|ABI-1|")
    result = CheckinResult.from_decoded(decoded)
    assert result.ok is False
    assert result.alert_type is AlertType.HOLD_HERE
    assert result.item_id == "I-1"
    assert result.institution_id is None
    assert any("missing required" in p for p in decoded.problems)


def test_az_without_ay_is_verified() -> None:
    body = b"941"
    from sip2.codec import checksum

    frame = body + b"AZ" + checksum(body + b"AZ").encode()
    decoded = decode(frame)
    assert decoded.sequence is None
    assert decoded.checksum_valid is True


def test_a_value_ending_like_a_checksum_is_not_taken_for_one() -> None:
    decoded = decode(b"18080001 20240301    101500AB12AZ1234|AJT|")
    assert decoded.message.first("AB") == "12AZ1234"
    assert decoded.checksum is None


@pytest.mark.parametrize(
    ("date", "expected_minute"),
    [
        ("20240301\t   101500", 15),  # a tab in the zone
        ("20240301 101500", 15),  # collapsed blanks
        ("202403010000101500", 15),  # 0000 where four blanks belong
    ],
)
def test_a_fixed_part_of_the_wrong_length_is_recovered_and_reported(
    date: str, expected_minute: int
) -> None:
    frame = f"18080001{date}ABI-1|AJT|CM20240310    235959|".encode()
    decoded = decode(frame)
    info = ItemInformation.from_decoded(decoded)
    assert info.circulation_status is CirculationStatus.WAITING_ON_HOLD_SHELF
    assert info.transaction_date is not None
    assert info.transaction_date.minute == expected_minute
    assert info.hold_pickup_date == datetime(2024, 3, 10, 23, 59, 59, tzinfo=UTC)
    assert info.item_id == "I-1"
    assert decoded.problems  # the repair is reported, not hidden


def test_version_strings_like_2_0e_are_kept_as_sent() -> None:
    decoded = decode(b"98YYYYNN60000320240301    1015002.0EAOMAIN|BXYYYYYYYYYYYYYYYY|")
    status = AcsStatus.from_decoded(decoded)
    assert status.protocol_version == "2.0E"
    assert status.online is True
    assert status.timeout_period == 600
    assert status.supported_messages is not None and "09" in status.supported_messages


def test_an_unreadable_fixed_part_reports_what_could_not_be_recovered() -> None:
    decoded = decode(b"18XYZABI-1|AJT|")
    info = ItemInformation.from_decoded(decoded)
    assert info.circulation_status is CirculationStatus.UNKNOWN
    assert info.item_id == "I-1"
    assert any("could not recover" in p for p in decoded.problems)


def test_non_ascii_names_from_a_cp1252_server_decode_under_utf8_with_a_note() -> None:
    frame = "64              00020240301    101500    0000000000000000    0000AOMAIN|AA2001|AEJosé Núñez|CQN|".encode(
        "cp1252"
    )
    decoded = decode(frame, encoding="utf-8")
    info = PatronInformation.from_decoded(decoded)
    assert info.personal_name == "José Núñez"
    assert info.pin_valid is False
    assert info.hold_items_count is None  # four blanks: unknown
    assert info.overdue_items_count == 0
    assert any("cp1252" in p for p in decoded.problems)


def test_blank_zone_dates_are_read_in_the_servers_zone() -> None:
    tz = timezone(timedelta(hours=2))
    info = ItemInformation.from_decoded(
        decode(b"18080001 20240301    101500ABI-1|AJT|AH20240315    120000|"), server_tz=tz
    )
    assert info.due_date == datetime(2024, 3, 15, 12, 0, tzinfo=tz)
