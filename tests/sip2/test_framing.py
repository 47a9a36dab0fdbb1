"""The framer turns a byte stream into whole frames, however the bytes are split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sip2.framing import Framer

FRAMES = [b"941AY0AZFDFD", b"101YNY20240301    101500AOMAIN|ABI-1|AQMAIN|", b"96AZFEF6"]


def test_two_frames_arriving_in_one_read_are_not_merged() -> None:
    assert Framer().feed(FRAMES[0] + b"\r" + FRAMES[1] + b"\r") == FRAMES[:2]


def test_cr_lf_and_a_stray_lf_before_the_next_frame_are_dropped() -> None:
    framer = Framer()
    assert framer.feed(FRAMES[0] + b"\r\n") == [FRAMES[0]]
    assert framer.feed(b"\n" + FRAMES[1] + b"\r") == [FRAMES[1]]
    assert framer.buffered == 0


def test_a_partial_frame_waits_for_its_cr() -> None:
    framer = Framer()
    assert framer.feed(FRAMES[1][:10]) == []
    assert framer.feed(FRAMES[1][10:] + b"\r") == [FRAMES[1]]


@settings(deadline=None)
@given(st.lists(st.integers(1, 40), max_size=30), st.sampled_from([b"\r", b"\r\n"]))
def test_any_split_of_the_stream_yields_the_same_frames(sizes: list[int], end: bytes) -> None:
    stream = b"".join(f + end for f in FRAMES)
    framer = Framer()
    got: list[bytes] = []
    pos = 0
    for size in sizes:
        got += framer.feed(stream[pos : pos + size])
        pos += size
    got += framer.feed(stream[pos:])
    assert got == FRAMES
