"""Every fault switch of the reference ACS, observed from a real TCP client."""

from __future__ import annotations

import socket
import time

import pytest

from sip2.acs.server import ReferenceACS
from sip2.codec import decode
from tests.sip2.acs.support import (
    LOANED,
    PLAIN,
    RawClient,
    checkin,
    item_information,
    login,
    sc_status,
    small_catalogue,
)


def test_latency_delays_every_reply(acs: ReferenceACS, client: RawClient) -> None:
    client.login()
    acs.faults.latency = 0.2
    started = time.monotonic()
    client.ask(sc_status())
    assert time.monotonic() - started >= 0.2


def test_the_connection_is_dropped_after_n_messages(acs: ReferenceACS, client: RawClient) -> None:
    acs.faults.drop_connection_after = 2
    client.login()
    assert client.ask(sc_status()).command == "98"
    assert client.is_closed()


def test_a_dropped_reply_still_performs_the_checkin(acs: ReferenceACS, client: RawClient) -> None:
    client.login()
    acs.faults.drop_replies = 1
    client.send(checkin(LOANED))
    assert client.read_raw() == b""  # the reply is lost with the connection
    assert acs.ledger.loans_closed(LOANED) == 1
    assert acs.faults.drop_replies == 0
    # The next connection is answered normally, and 17 shows what happened.
    again = RawClient(acs.address)
    again.login()
    assert again.ask(item_information(LOANED)).fixed_value("circulation_status") == "08"
    again.close()


def test_dropped_replies_spare_requests_that_change_nothing(
    acs: ReferenceACS, client: RawClient
) -> None:
    acs.faults.drop_replies = 1
    client.login()
    assert client.ask(item_information(PLAIN)).command == "18"
    assert acs.faults.drop_replies == 1


def test_refused_logins_answer_94_with_ok_0(acs: ReferenceACS, client: RawClient) -> None:
    acs.faults.refuse_logins = True
    assert client.login().fixed_value("ok") == "0"
    acs.faults.refuse_logins = False
    assert client.login().fixed_value("ok") == "1"


def test_going_down_closes_connections_and_refuses_new_ones_until_it_comes_back(
    acs: ReferenceACS, client: RawClient
) -> None:
    client.login()
    acs.go_down()
    assert client.is_closed()
    with pytest.raises(OSError):
        RawClient(acs.address, timeout=1).close()
    acs.come_back()
    back = RawClient(acs.address)
    assert back.login().fixed_value("ok") == "1"
    back.close()


def test_the_down_switch_on_faults_does_the_same(acs: ReferenceACS) -> None:
    acs.faults.down = True
    with pytest.raises(OSError):
        RawClient(acs.address, timeout=1).close()
    acs.faults.clear()
    assert not acs.faults.down
    back = RawClient(acs.address)
    assert back.login().fixed_value("ok") == "1"
    back.close()


def test_an_idle_connection_is_closed_like_koha_does(acs: ReferenceACS, client: RawClient) -> None:
    acs.faults.idle_timeout = 0.3
    client.login()
    time.sleep(0.15)
    assert client.ask(sc_status()).command == "98"  # activity resets the clock
    started = time.monotonic()
    assert client.read_raw() == b""
    assert 0.2 <= time.monotonic() - started < 2


def test_corrupt_checksums_make_replies_fail_verification(
    acs: ReferenceACS, client: RawClient
) -> None:
    acs.faults.corrupt_checksums = True
    client.send(login("lockers-main", "demo-main"), checksum=True)
    decoded = client.read()
    assert decoded.checksum is not None and decoded.checksum_valid is False


def test_cr_lf_framing_ends_each_reply_with_cr_lf(acs: ReferenceACS, client: RawClient) -> None:
    acs.faults.line_ending = "\r\n"
    client.send(login("lockers-main", "demo-main"))
    raw = client.read_raw()
    assert raw.endswith(b"\r\n")
    assert decode(raw).message.fixed_value("ok") == "1"
    acs.faults.line_ending = "\r"
    client.send(sc_status())
    assert client.read_raw().endswith(
        b"2.00AODEMO|AMDemo Library|BXYYYNYYYYYNYNNYYN|ANMAIN-LOCKER|\r"
    )


def test_checksums_can_be_forced_on(acs: ReferenceACS, client: RawClient) -> None:
    acs.checksums = True
    client.send(login("lockers-main", "demo-main"))
    assert client.read().checksum_valid is True


def test_a_stopped_server_frees_its_port() -> None:
    acs = ReferenceACS(small_catalogue())
    host, port = acs.start()
    acs.stop()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
