"""The reference ACS over real TCP: framing, checksums, login, concurrency, stop."""

from __future__ import annotations

import threading

from sip2.acs.server import ReferenceACS
from sip2.codec import encode
from tests.sip2.acs.support import (
    ANA,
    LOANED,
    PLAIN,
    RawClient,
    checkin,
    item_information,
    login,
    patron_information,
    sc_status,
    small_catalogue,
)


def test_a_logged_in_client_gets_answers_over_tcp(client: RawClient) -> None:
    assert client.login().fixed_value("ok") == "1"
    assert client.ask(sc_status()).command == "98"
    reply = client.ask(patron_information(ANA, pin="1234"))
    assert (reply.first("BL"), reply.first("CQ")) == ("Y", "Y")


def test_the_first_message_must_be_a_login(client: RawClient) -> None:
    client.send(sc_status())
    assert client.read_raw() == b""


def test_two_frames_in_one_packet_get_two_replies_in_order(client: RawClient) -> None:
    client.login()
    data = encode(item_information(PLAIN)) + encode(item_information(LOANED))
    client.send_raw(data)
    assert client.read().message.first("AB") == PLAIN
    assert client.read().message.first("AB") == LOANED


def test_replies_carry_a_valid_checksum_and_the_sequence_when_the_request_did(
    client: RawClient,
) -> None:
    client.send(login("lockers-main", "demo-main"), checksum=True)
    decoded = client.read()
    assert decoded.checksum_valid is True
    assert decoded.sequence == client.sequence
    client.send(sc_status())
    assert client.read().checksum is None


def test_a_bad_checksum_gets_96_and_changes_nothing(acs: ReferenceACS, client: RawClient) -> None:
    client.login()
    frame = encode(checkin(LOANED), sequence=1, error_detection=True)
    tampered = frame[:-5] + (b"0000" if frame[-5:-1] != b"0000" else b"0001") + b"\r"
    client.send_raw(tampered)
    assert client.read().message.command == "96"
    assert len(acs.ledger) == 0


def test_an_unknown_command_gets_96(client: RawClient) -> None:
    client.login()
    client.send_raw(b"01N20250310    120000AODEMO|ALcard|AA1|AC|\r")  # block patron: unsupported
    assert client.read().message.command == "96"


def test_lf_after_cr_from_the_client_is_tolerated(client: RawClient) -> None:
    client.send_raw(encode(login("lockers-main", "demo-main")) + b"\n")
    assert client.read().message.fixed_value("ok") == "1"
    client.send_raw(b"\n" + encode(sc_status()))
    assert client.read().message.command == "98"


def test_several_clients_are_served_at_once(acs: ReferenceACS) -> None:
    results: list[str] = []

    def one() -> None:
        c = RawClient(acs.address)
        c.login()
        for _ in range(20):
            results.append(c.ask(item_information(PLAIN)).fixed_value("circulation_status") or "")
        c.close()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == ["03"] * 80


def test_stop_closes_connections_and_ends_every_thread() -> None:
    # Threads of earlier tests may end meanwhile: only the server's own are counted.
    before = set(threading.enumerate())
    acs = ReferenceACS(small_catalogue())
    address = acs.start()
    c = RawClient(address)
    c.login()
    assert set(threading.enumerate()) - before  # the server runs threads of its own
    acs.stop()
    assert c.read_raw() == b""
    c.close()
    assert [t for t in set(threading.enumerate()) - before if t.is_alive()] == []


def test_the_catalogue_changes_are_visible_to_the_test(
    acs: ReferenceACS, client: RawClient
) -> None:
    client.login()
    reply = client.ask(checkin(LOANED))
    assert reply.first("CV") == "01"
    assert acs.catalogue.items[LOANED].status.value == "on_hold_shelf"
    assert acs.ledger.checkins(LOANED)[0].ok


def test_a_login_with_wrong_credentials_is_refused(client: RawClient) -> None:
    assert client.login(password="nope").fixed_value("ok") == "0"
    assert client.ask(login("lockers-main", "demo-main")).fixed_value("ok") == "1"
