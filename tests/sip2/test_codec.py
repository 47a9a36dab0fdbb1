"""The codec: every message type round-trips, checksums match the spec, encoding is strict."""

from __future__ import annotations

import pysip2.codec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysip2.models import MESSAGE_SPECS_BY_ID

from sip2.codec import Message, checksum, decode, encode
from sip2.errors import EncodeError, Fault
from sip2.messages import SPECS

from .strategies import message_for, messages


@pytest.mark.parametrize("command", sorted(SPECS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_message_type_round_trips_without_problems(command: str, data: st.DataObject) -> None:
    message = data.draw(message_for(SPECS[command]))
    decoded = decode(encode(message))
    assert decoded.message == message
    assert decoded.problems == ()
    assert decoded.checksum is None


@settings(max_examples=150, deadline=None)
@given(message=messages, sequence=st.integers(0, 9), encoding=st.sampled_from(["utf-8", "cp1252"]))
def test_messages_with_error_detection_round_trip_and_verify(
    message: Message, sequence: int, encoding: str
) -> None:
    try:
        frame = encode(message, sequence=sequence, error_detection=True, encoding=encoding)
    except EncodeError:
        return  # a character cp1252 cannot hold: refusing is the strict answer
    decoded = decode(frame, encoding=encoding)
    assert decoded.message == message
    assert decoded.checksum_valid is True
    assert decoded.sequence == (None if message.command in ("96", "97") else sequence)


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_checksum_agrees_with_pysip2s_independent_implementation(data: bytes) -> None:
    assert checksum(data) == pysip2.codec.calculate_checksum(data)


def test_checksum_is_the_twos_complement_of_the_byte_sum_in_uppercase_hex() -> None:
    # '9' '4' '1' 'A' 'Y' '3' 'A' 'Z' sum to 0x206; -0x206 & 0xFFFF = 0xFDFA.
    assert checksum(b"941AY3AZ") == "FDFA"
    assert encode(Message.build("94", ok="1"), sequence=3, error_detection=True) == (
        b"941AY3AZFDFA\r"
    )


def test_our_fixed_layouts_match_pysip2s_for_every_message() -> None:
    for command, spec in SPECS.items():
        theirs = [f.width for f in MESSAGE_SPECS_BY_ID[command].fields if f.field_id is None]
        assert [f.width for f in spec.fixed] == theirs, command


def test_frames_we_encode_are_accepted_by_pysip2s_strict_decoder() -> None:
    frame = encode(
        Message.build(
            "09",
            [("AP", "LOCKER1"), ("AO", "MAIN"), ("AB", "39001"), ("AC", "")],
            no_block="N",
            transaction_date="20240301    101500",
            return_date="20240301    091500",
        ),
        sequence=4,
        error_detection=True,
    )
    theirs = pysip2.codec.decode_message(frame, encoding="utf-8")
    assert theirs.sequence_number == 4
    assert theirs.message.current_location == "LOCKER1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (Message("42"), "unknown command"),
        (Message.build("94"), "missing fixed field"),
        (Message.build("94", ok="Y"), "ok must be 0 or 1"),
        (Message.build("17", [("AO", "x"), ("AB", "a|b")], transaction_date=" " * 18), "pipe"),
        (Message.build("17", [("AO", "x"), ("AB", "a\rb")], transaction_date=" " * 18), "CR"),
        (Message.build("17", [("AO", "x"), ("AB", "x" * 256)], transaction_date=" " * 18), "long"),
        (Message.build("17", [("AO", "x")], transaction_date=" " * 18), "AB is required"),
        (Message.build("17", [("AO", "x"), ("ab", "1")], transaction_date=" " * 18), "bad code"),
        (
            Message.build("17", [("AO", "x"), ("AB", "1"), ("AY", "1")], transaction_date=" " * 18),
            "AY",
        ),
        (
            Message.build("17", [("AO", "x"), ("AB", "1")], transaction_date="2024-03-01 10:00"),
            "date",
        ),
    ],
)
def test_encoding_refuses_what_the_spec_forbids_as_our_fault(message: Message, why: str) -> None:
    with pytest.raises(EncodeError) as caught:
        encode(message)
    assert caught.value.fault is Fault.OURS


def test_error_detection_needs_a_single_digit_sequence_number() -> None:
    with pytest.raises(EncodeError):
        encode(Message.build("94", ok="1"), sequence=10, error_detection=True)
    with pytest.raises(EncodeError):
        encode(Message.build("94", ok="1"), error_detection=True)


def test_control_messages_carry_a_checksum_but_no_sequence_number() -> None:
    assert encode(Message("97"), error_detection=True) == b"97AZFEF5\r"
    assert decode(b"97AZFEF5").checksum_valid is True


def test_non_ascii_names_survive_in_utf8_and_in_cp1252() -> None:
    reply = Message.build(
        "24",
        [("AO", "MAIN"), ("AA", "2001"), ("AE", "Søren Ærø-Müller")],
        patron_status=" " * 14,
        language="000",
        transaction_date="20240301    101500",
    )
    for encoding in ("utf-8", "cp1252"):
        assert decode(encode(reply, encoding=encoding), encoding=encoding).message == reply


def test_ascii_servers_get_a_clear_error_for_names_they_cannot_carry() -> None:
    with pytest.raises(EncodeError, match="ascii"):
        encode(
            Message.build("17", [("AO", "Bibliothèque"), ("AB", "1")], transaction_date=" " * 18),
            encoding="ascii",
        )
