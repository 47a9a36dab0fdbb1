"""Random and truncated bytes give a clear typed error or a decode with problems: never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sip2.codec import Decoded, Message, decode, encode
from sip2.connection import sc_status_message
from sip2.errors import FrameError, SipError
from sip2.framing import Framer
from sip2.session import Session, SessionConfig

from .strategies import messages


def _decode_or_typed_error(data: bytes) -> Decoded | FrameError:
    try:
        return decode(data)
    except FrameError as exc:
        return exc


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_raise_a_frame_error(data: bytes) -> None:
    result = _decode_or_typed_error(data.replace(b"\r", b""))
    assert isinstance(result, (Decoded, FrameError))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["09", "10", "18", "64", "98", "12"]), st.binary(max_size=200))
def test_random_bodies_behind_a_real_command_id_still_decode(command: str, body: bytes) -> None:
    result = _decode_or_typed_error(command.encode() + body.replace(b"\r", b""))
    assert isinstance(result, Decoded)
    assert result.message.command == command


@settings(max_examples=60, deadline=None)
@given(messages, st.data())
def test_every_truncation_of_a_valid_frame_decodes_or_raises_a_frame_error(
    message: Message, data: st.DataObject
) -> None:
    frame = encode(message, sequence=1, error_detection=True)
    cut = data.draw(st.integers(0, len(frame) - 1))
    result = _decode_or_typed_error(frame[:cut])
    assert isinstance(result, (Decoded, FrameError))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=10))
def test_a_session_fed_garbage_raises_only_sip_errors(chunks: list[bytes]) -> None:
    session = Session(SessionConfig(login_required=False))
    session.send(sc_status_message())
    for chunk in chunks:
        try:
            session.receive(chunk)
        except SipError:
            return


def test_bytes_without_a_cr_are_bounded_by_the_framer() -> None:
    framer = Framer(max_frame=1000)
    try:
        for _ in range(20):
            framer.feed(b"A" * 100)
    except FrameError:
        assert framer.buffered == 0
    else:
        raise AssertionError("an endless frame was buffered without limit")
