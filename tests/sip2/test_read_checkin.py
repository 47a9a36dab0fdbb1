"""The checkin reply's direct reader gives exactly what the generic decode() path gives.

:func:`sip2.results.read_checkin` reads the usual 10 straight from its bytes and declines
(None) whatever decode() would have to repair or report. Whenever it answers, its result must
equal ``CheckinResult.from_decoded(decode(frame))``, field for field.
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sip2.codec import Message, decode, encode
from sip2.errors import EncodeError, FrameError
from sip2.messages import SPECS
from sip2.results import CheckinResult, read_checkin
from sip2.session import Reply, Session, SessionConfig

from .strategies import codes, message_for, values

CHECKIN_CODES = ["AO", "AB", "AQ", "AJ", "CL", "AA", "CK", "CH", "CV", "CT", "CY", "DA"]
zones = st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/Chicago")])
# Known checkin fields (repeated too), screen messages and print lines, vendor codes: any order.
extra_fields = st.lists(
    st.tuples(st.sampled_from([*CHECKIN_CODES, "AF", "AG"]) | codes, values), max_size=8
)


@st.composite
def checkin_frames(draw: st.DrawFn) -> tuple[bytes, str]:
    base: Message = draw(message_for(SPECS["10"]))
    more = draw(extra_fields)
    fields = list(base.fields) + more
    draw(st.randoms()).shuffle(fields)  # any order, required ones included
    message = Message(base.command, base.fixed, tuple(fields))
    encoding = draw(st.sampled_from(["utf-8", "cp1252"]))
    try:
        frame = encode(
            message,
            sequence=draw(st.integers(0, 9)),
            error_detection=draw(st.booleans()),
            encoding=encoding,
        )
    except EncodeError:
        assume(False)
    return frame, encoding


def _generic(frame: bytes, encoding: str, tz: ZoneInfo | type[UTC]) -> CheckinResult:
    return CheckinResult.from_decoded(decode(frame, encoding=encoding), server_tz=tz)


@settings(max_examples=300, deadline=None)
@given(case=checkin_frames(), tz=zones)
def test_well_formed_replies_are_read_directly_and_alike(case: tuple[bytes, str], tz) -> None:
    frame, encoding = case
    direct = read_checkin(frame[:-1], encoding, tz)
    assert direct is not None
    assert direct == _generic(frame, encoding, tz)
    assert direct.raw_fields == decode(frame, encoding=encoding).message.fields


@settings(max_examples=400, deadline=None)
@given(
    case=checkin_frames(),
    tz=zones,
    edits=st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 3), st.binary(max_size=3)), max_size=3
    ),
)
def test_damaged_replies_are_declined_or_read_alike(
    case: tuple[bytes, str], tz, edits: list[tuple[int, int, bytes]]
) -> None:
    frame, encoding = case
    body = frame[:-1]
    for at, cut, insert in edits:  # replace a few bytes anywhere, the fixed part included
        at %= len(body) + 1
        body = body[:at] + insert.replace(b"\r", b"") + body[at + cut :]
    direct = read_checkin(body, encoding, tz)
    try:
        generic = _generic(body, encoding, tz)
    except FrameError:
        assert direct is None
        return
    if direct is not None:
        assert direct == generic
        assert direct.problems == () == generic.problems


def test_what_decode_would_report_is_declined() -> None:
    good = b"101NNY20240301    091500AODEMO|AB1|AQMAIN|"
    assert read_checkin(good) is not None
    assert read_checkin(good.replace(b"AQMAIN|", b"")) is None  # required AQ missing
    assert read_checkin(good.replace(b"AODEMO", b"AODE\x00MO")) is None  # NUL
    assert read_checkin(good + b"X|") is None  # a piece too short for a code
    assert read_checkin(good.replace(b"1NNY", b"1NXY")) is None  # lenient fixed part
    assert read_checkin(b"\xff" + good[1:]) is None
    checked = encode(decode(good).message, sequence=3, error_detection=True)[:-1]
    assert read_checkin(checked) is not None
    assert read_checkin(checked[:-1] + (b"0" if checked[-1:] != b"0" else b"1")) is None


def _awaiting_checkin(error_detection: bool, encoding: str = "utf-8") -> Session:
    config = SessionConfig(error_detection=error_detection, encoding=encoding, login_required=False)
    session = Session(config)
    message = Message.build(
        "09",
        [("AP", "MAIN"), ("AO", "DEMO"), ("AB", "1"), ("AC", "")],
        no_block="N",
        transaction_date="20240301    091500",
        return_date="20240301    091500",
    )
    session.send(message)
    return session


@settings(max_examples=100, deadline=None)
@given(case=checkin_frames(), crlf=st.booleans())
def test_session_reads_the_usual_reply_like_receive(case: tuple[bytes, str], crlf: bool) -> None:
    frame, encoding = case
    data = frame + (b"\n" if crlf else b"")
    fast, slow = _awaiting_checkin(False, encoding), _awaiting_checkin(False, encoding)
    value = fast.read_reply(data, lambda f: read_checkin(f, encoding))
    [event] = slow.receive(data)
    assert isinstance(event, Reply)
    assert value is not None  # well-formed: read directly
    assert value == CheckinResult.from_decoded(event.decoded)
    assert fast.state is slow.state and fast.awaiting is None


def test_session_leaves_resends_and_other_replies_to_receive() -> None:
    session = _awaiting_checkin(True)
    good = encode(
        decode(b"101NNY20240301    091500AODEMO|AB1|AQMAIN|").message,
        sequence=0,
        error_detection=True,
    )
    bad = good[:-2] + (b"0" if good[-2:-1] != b"0" else b"1") + b"\r"
    assert session.read_reply(bad, read_checkin) is None  # checksum: receive() sends a 97
    assert session.read_reply(encode(Message("96")), read_checkin) is None
    assert session.read_reply(good[:10], read_checkin) is None  # partial frame
    assert session.read_reply(good + good, read_checkin) is None  # two frames
    assert session.read_reply(good, read_checkin) is not None
    assert session.awaiting is None
