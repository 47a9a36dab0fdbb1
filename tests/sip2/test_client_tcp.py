"""The client over real TCP against a scripted ACS: happy paths, lost replies, reconnects."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sip2.client import SipClient
from sip2.codec import Message, decode, encode
from sip2.config import ServerConfig, SipAccount
from sip2.errors import IlsUnavailable, LoginRefused, OutcomeUnknown
from sip2.pool import SipPool
from sip2.results import AlertType, CirculationStatus

from .fake_acs import CLOSE, DROP, FakeAcs, canned_reply

ACCOUNT = SipAccount(user="lockers", password="pw", location="LOCKER1", institution="MAIN")
RETURNED = datetime(2024, 3, 1, 9, 15, tzinfo=UTC)


def server(acs: FakeAcs, **over: object) -> ServerConfig:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": acs.port,
        "request_timeout": 1.0,
        "connect_timeout": 1.0,
        "heartbeat_interval": None,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
    }
    settings.update(over)
    return ServerConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def acs() -> Iterator[FakeAcs]:
    fake = FakeAcs()
    yield fake
    fake.stop()


def client_for(acs: FakeAcs, **over: object) -> SipClient:
    return SipClient.for_server(server(acs, **over), ACCOUNT)


def test_checkin_returns_a_typed_result_and_logs_in_first(acs: FakeAcs) -> None:
    with client_for(acs) as client:
        result = client.checkin("I-1", location="LOCKER1", returned_at=RETURNED)
    assert result.ok is True
    assert result.alert_type is AlertType.HOLD_HERE
    assert result.destination_location == "LOCKER1"
    assert acs.commands() == ["93", "09"]
    login, checkin = (decode(f).message for f in acs.frames)
    assert login.first("CN") == "lockers" and login.first("CP") == "LOCKER1"
    assert checkin.first("AP") == "LOCKER1"
    assert checkin.fixed_value("return_date") == "20240301   Z091500"


def test_item_information_parses_status_and_hold_shelf_expiry(acs: FakeAcs) -> None:
    with client_for(acs) as client:
        info = client.item_information("I-7")
    assert info.circulation_status is CirculationStatus.WAITING_ON_HOLD_SHELF
    assert info.hold_pickup_date == datetime(2024, 3, 10, 23, 59, 59, tzinfo=UTC)


def test_patron_information_reports_pin_validity_only_when_a_pin_was_sent(acs: FakeAcs) -> None:
    with client_for(acs) as client:
        with_pin = client.patron_information("2001", pin="1234")
        without = client.patron_information("2001")
    assert with_pin.pin_valid is True
    assert without.pin_valid is None
    assert with_pin.hold_items_count == 1
    sent = [decode(f).message for f in acs.frames if f.startswith(b"63")]
    assert sent[0].first("AD") == "1234" and sent[1].first("AD") is None


def test_checkout_sends_fee_acknowledgement_and_no_block(acs: FakeAcs) -> None:
    with client_for(acs) as client:
        result = client.checkout("2001", "I-1", pin="1234", fee_acknowledged=True, no_block=True)
    assert result.ok is True and result.desensitize is True
    assert result.due_date == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    sent = decode(acs.frames[-1]).message
    assert sent.first("BO") == "Y" and sent.fixed_value("no_block") == "Y"


def test_one_connection_serves_many_requests(acs: FakeAcs) -> None:
    with client_for(acs) as client:
        for _ in range(5):
            client.sc_status()
    assert acs.connections == 1


def test_a_refused_login_raises_login_refused() -> None:
    def refuse(frame: bytes, _n: int) -> bytes:
        return encode(Message.build("94", ok="0")) if frame.startswith(b"93") else CLOSE

    acs = FakeAcs(refuse)
    try:
        with client_for(acs) as client, pytest.raises(LoginRefused):
            client.sc_status()
    finally:
        acs.stop()


def test_nothing_listening_means_ils_unavailable() -> None:
    acs = FakeAcs()
    acs.stop()
    with client_for(acs) as client, pytest.raises(IlsUnavailable):
        client.sc_status()


def test_a_dropped_checkin_reply_is_an_unknown_outcome_not_a_guess() -> None:
    def drop_checkin(frame: bytes, _n: int) -> bytes:
        return DROP if frame.startswith(b"09") else canned_reply(frame)

    acs = FakeAcs(drop_checkin)
    try:
        with client_for(acs, request_timeout=0.3) as client:
            with pytest.raises(OutcomeUnknown) as caught:
                client.checkin("I-1", location="LOCKER1", returned_at=RETURNED)
            assert caught.value.command == "09"
            assert client.item_information("I-1").item_id == "I-1"  # usable again
    finally:
        acs.stop()


def test_eof_after_a_checkout_was_sent_is_an_unknown_outcome() -> None:
    def close_on_checkout(frame: bytes, _n: int) -> bytes:
        return CLOSE if frame.startswith(b"11") else canned_reply(frame)

    acs = FakeAcs(close_on_checkout)
    try:
        with client_for(acs) as client, pytest.raises(OutcomeUnknown):
            client.checkout("2001", "I-1")
    finally:
        acs.stop()


def test_a_lost_read_only_reply_is_retried_once_on_a_fresh_connection() -> None:
    def close_first_item_info(frame: bytes, n: int) -> bytes:
        return CLOSE if frame.startswith(b"17") and n == 1 else canned_reply(frame)

    acs = FakeAcs(close_first_item_info)
    try:
        with client_for(acs) as client:
            assert client.item_information("I-1").item_id == "I-1"
        assert acs.connections == 2
    finally:
        acs.stop()


def test_an_idle_connection_the_acs_dropped_is_replaced_before_a_checkin() -> None:
    acs = FakeAcs(idle_timeout=0.2)
    try:
        with client_for(acs) as client:
            client.sc_status()
            time.sleep(0.8)  # the ACS drops us, like Koha after its timeout
            result = client.checkin("I-1", location="LOCKER1", returned_at=RETURNED)
        assert result.ok is True  # not OutcomeUnknown: the dead socket was noticed first
        assert acs.connections == 2
    finally:
        acs.stop()


def test_heartbeat_keeps_a_session_past_the_acs_idle_timeout() -> None:
    acs = FakeAcs(idle_timeout=0.8)
    try:
        with client_for(acs, heartbeat_interval=0.15) as client:
            client.sc_status()
            time.sleep(1.6)  # twice the ACS's idle timeout: margins for a loaded machine
            client.item_information("I-1")
        assert acs.connections == 1
        assert acs.commands().count("99") >= 3
    finally:
        acs.stop()


def test_the_client_reconnects_after_the_acs_is_killed_and_restarted() -> None:
    acs = FakeAcs()
    port = acs.port
    with client_for(acs) as client:
        client.sc_status()
        acs.stop()
        with pytest.raises(IlsUnavailable):
            client.sc_status()
        acs = FakeAcs(port=port)
        try:
            deadline = time.monotonic() + 3
            while True:  # backoff may refuse at once for a moment: that is its point
                try:
                    assert client.sc_status().online is True
                    break
                except IlsUnavailable:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        finally:
            acs.stop()


def test_a_96_makes_the_client_resend_its_request() -> None:
    seen: list[int] = []

    def corrupt_once(frame: bytes, _n: int) -> bytes:
        if frame.startswith(b"17") and not seen:
            seen.append(1)
            return encode(Message("96"), error_detection=True)
        return canned_reply(frame)

    acs = FakeAcs(corrupt_once)
    try:
        with client_for(acs, error_detection=True) as client:
            assert client.item_information("I-1").item_id == "I-1"
        frames = [f for f in acs.frames if f.startswith(b"17")]
        assert len(frames) == 2 and frames[0] == frames[1]
    finally:
        acs.stop()


def test_cr_lf_replies_work_over_tcp() -> None:
    acs = FakeAcs(line_end=b"\r\n")
    try:
        with client_for(acs) as client:
            for _ in range(3):
                assert client.item_information("I-1").item_id == "I-1"
    finally:
        acs.stop()


def test_the_pool_never_opens_more_than_its_limit_under_concurrent_threads() -> None:
    def slow(frame: bytes, _n: int) -> bytes:
        time.sleep(0.02)
        return canned_reply(frame)

    acs = FakeAcs(slow)
    pool = SipPool(server(acs, request_timeout=5.0), max_connections=2)
    client = SipClient(pool, ACCOUNT)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                client.item_information("I-1")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert errors == []
        assert acs.connections == 2
        assert acs.commands().count("17") == 30
    finally:
        pool.close()
        acs.stop()


def test_two_locker_banks_share_the_budget_with_their_own_logins(acs: FakeAcs) -> None:
    pool = SipPool(server(acs), max_connections=1)
    other = SipAccount(user="lockers2", password="pw2", location="LOCKER2", institution="MAIN")
    try:
        SipClient(pool, ACCOUNT).sc_status()
        SipClient(pool, other).sc_status()
        assert pool.stats()["open"] == 1
        logins = [decode(f).message.first("CN") for f in acs.frames if f.startswith(b"93")]
        assert logins == ["lockers", "lockers2"]
    finally:
        pool.close()


def test_a_forked_worker_opens_its_own_connection_and_leaves_the_parents_alone(
    acs: FakeAcs,
) -> None:
    import os

    with client_for(acs) as client:
        client.sc_status()
        pid = os.fork()
        if pid == 0:  # the rq work horse
            code = 1
            try:
                code = 0 if client.item_information("I-child").item_id == "I-child" else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.item_information("I-parent").item_id == "I-parent"
    assert acs.connections == 2
