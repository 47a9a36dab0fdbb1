"""The client session state machine, driven in memory against a scripted ACS."""

from __future__ import annotations

import pytest

from sip2.codec import Message, decode, encode
from sip2.connection import sc_status_message
from sip2.errors import EncodeError, Fault, ProtocolError, UnexpectedReply
from sip2.session import Reply, Resend, Session, SessionConfig, State

LOGIN = Message.build(
    "93",
    [("CN", "lockers"), ("CO", "pw"), ("CP", "LOCKER1")],
    uid_algorithm="0",
    pwd_algorithm="0",
)


def item_info(item: str) -> Message:
    return Message.build(
        "17", [("AO", "MAIN"), ("AB", item)], transaction_date="20240301    101500"
    )


def item_reply(item: str) -> Message:
    return Message.build(
        "18",
        [("AB", item), ("AJ", "T")],
        circulation_status="03",
        security_marker="00",
        fee_type="01",
        transaction_date="20240301    101500",
    )


def logged_in(**config: object) -> Session:
    session = Session(SessionConfig(**config))  # type: ignore[arg-type]
    frame = session.send(LOGIN)
    seq = decode(frame).sequence
    [event] = session.receive(
        encode(Message.build("94", ok="1"), sequence=seq, error_detection=seq is not None)
    )
    assert isinstance(event, Reply)
    return session


def test_login_moves_connected_to_logged_in_and_a_request_waits_for_its_reply() -> None:
    session = Session()
    assert session.state is State.CONNECTED
    session.send(LOGIN)
    assert session.state is State.AWAITING_REPLY  # type: ignore[comparison-overlap]
    session.receive(encode(Message.build("94", ok="1")))
    assert session.state is State.LOGGED_IN
    session.send(item_info("I-1"))
    assert session.state is State.AWAITING_REPLY
    [reply] = session.receive(encode(item_reply("I-1")))
    assert isinstance(reply, Reply)
    assert reply.message.first("AB") == "I-1"
    assert session.state is State.LOGGED_IN


def test_a_refused_login_leaves_the_session_not_logged_in() -> None:
    session = Session()
    session.send(LOGIN)
    [reply] = session.receive(encode(Message.build("94", ok="0")))
    assert isinstance(reply, Reply)
    assert session.state is State.CONNECTED
    with pytest.raises(ProtocolError) as caught:
        session.send(item_info("I-1"))
    assert caught.value.fault is Fault.OURS


def test_a_second_request_before_the_reply_is_our_misuse() -> None:
    session = logged_in()
    session.send(item_info("I-1"))
    with pytest.raises(ProtocolError) as caught:
        session.send(item_info("I-2"))
    assert caught.value.fault is Fault.OURS


def test_sequence_numbers_cycle_from_0_to_9() -> None:
    session = logged_in(error_detection=True)
    seen = []
    for n in range(12):
        frame = session.send(item_info(f"I-{n}"))
        seq = decode(frame).sequence
        seen.append(seq)
        session.receive(encode(item_reply(f"I-{n}"), sequence=seq, error_detection=True))
    assert seen == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]  # 0 went to the login


def test_a_96_makes_the_session_resend_its_last_frame_a_bounded_number_of_times() -> None:
    session = logged_in(error_detection=True, max_resends=2)
    frame = session.send(item_info("I-1"))
    resend_request = encode(Message("96"), error_detection=True)
    for _ in range(2):
        [event] = session.receive(resend_request)
        assert isinstance(event, Resend)
        assert event.data == frame
    with pytest.raises(ProtocolError) as caught:
        session.receive(resend_request)
    assert caught.value.fault is Fault.PEER
    assert session.state is State.CLOSED


def test_a_reply_failing_its_checksum_is_asked_for_again_with_97() -> None:
    session = logged_in(error_detection=True)
    frame = session.send(item_info("I-1"))
    good = encode(item_reply("I-1"), sequence=decode(frame).sequence, error_detection=True)
    corrupted = good[:-5] + (b"0000\r" if not good.endswith(b"0000\r") else b"1111\r")
    [event] = session.receive(corrupted)
    assert isinstance(event, Resend)
    assert event.data == b"97AZFEF5\r"
    [reply] = session.receive(good)
    assert isinstance(reply, Reply)


def test_a_reply_to_something_else_closes_the_session_as_the_peers_fault() -> None:
    session = logged_in()
    session.send(item_info("I-1"))
    with pytest.raises(UnexpectedReply):
        session.receive(encode(Message.build("94", ok="1")))
    assert session.state is State.CLOSED


def test_a_frame_nobody_asked_for_is_a_protocol_error() -> None:
    session = logged_in()
    with pytest.raises(UnexpectedReply):
        session.receive(encode(item_reply("I-1")))


def test_a_reply_split_over_many_reads_arrives_once() -> None:
    session = logged_in()
    session.send(sc_status_message())
    frame = encode(
        Message.build(
            "98",
            [("AO", "MAIN"), ("BX", "Y" * 16)],
            online_status="Y",
            checkin_ok="Y",
            checkout_ok="Y",
            acs_renewal_policy="N",
            status_update_ok="N",
            offline_ok="N",
            timeout_period="030",
            retries_allowed="003",
            date_time_sync="20240301    101500",
            protocol_version="2.00",
        )
    )
    events = []
    for i in range(len(frame)):
        events += session.receive(frame[i : i + 1])
    assert len(events) == 1 and isinstance(events[0], Reply)


def test_a_request_that_cannot_be_encoded_leaves_the_session_ready_for_the_next() -> None:
    session = logged_in()
    with pytest.raises(EncodeError):
        session.send(item_info("bad|barcode"))
    assert session.state is State.LOGGED_IN and session.awaiting is None
    session.send(item_info("I-1"))
    [reply] = session.receive(encode(item_reply("I-1")))
    assert isinstance(reply, Reply) and reply.message.first("AB") == "I-1"


@pytest.mark.parametrize("awaiting", [False, True])
def test_a_lost_connection_closes_the_session_whatever_it_was_doing(awaiting: bool) -> None:
    session = logged_in()
    if awaiting:
        session.send(item_info("I-1"))
    session.connection_lost()
    assert session.state is State.CLOSED and session.awaiting is None
    with pytest.raises(ProtocolError) as caught:
        session.send(item_info("I-2"))
    assert caught.value.fault is Fault.OURS
    with pytest.raises(UnexpectedReply):
        session.receive(encode(item_reply("I-1")))
