"""The reference ACS never crashes on garbage: the sender gets 96 or is hung up on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sip2.acs.server import ReferenceACS
from sip2.codec import decode, encode
from tests.sip2.acs.support import PLAIN, RawClient, item_information, sc_status, small_catalogue


@pytest.fixture(scope="module")
def shared_acs() -> Iterator[ReferenceACS]:
    with ReferenceACS(small_catalogue()) as server:
        yield server


def _replies_until_probe_or_close(client: RawClient) -> list[str]:
    """Commands of every reply up to the probe's 98; the last entry is "closed" on EOF."""
    commands: list[str] = []
    while True:
        frame = client.read_raw()
        if not frame:
            return [*commands, "closed"]
        commands.append(decode(frame).message.command)  # every reply must decode
        if commands[-1] == "98":
            return commands


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(garbage=st.binary(min_size=1, max_size=300), logged_in=st.booleans())
def test_random_bytes_get_96_or_a_hang_up_and_others_are_still_served(
    shared_acs: ReferenceACS, garbage: bytes, logged_in: bool
) -> None:
    client = RawClient(shared_acs.address, timeout=5)
    try:
        if logged_in:
            assert client.login().fixed_value("ok") == "1"
        try:
            client.send_raw(garbage + b"\r" + encode(sc_status()))
            commands = _replies_until_probe_or_close(client)
        except ConnectionResetError:
            commands = ["closed"]
        assert commands[-1] in ("98", "closed")
        if not logged_in:
            # Nothing but 96 (or a refused 94) before the server hangs up on the probe.
            assert commands[-1] == "closed"
            assert set(commands[:-1]) <= {"96", "94"}
    finally:
        client.close()
    other = RawClient(shared_acs.address)
    other.login()
    assert other.ask(item_information(PLAIN)).fixed_value("circulation_status") == "03"
    other.close()


def test_a_flood_without_a_carriage_return_is_hung_up_on(shared_acs: ReferenceACS) -> None:
    client = RawClient(shared_acs.address)
    client.login()
    try:
        client.send_raw(b"x" * 70_000)
        assert client.read_raw() == b""
    except ConnectionResetError:
        pass
    client.close()
    other = RawClient(shared_acs.address)
    assert other.login().fixed_value("ok") == "1"
    other.close()


def test_a_field_the_reply_cannot_carry_gets_96(shared_acs: ReferenceACS) -> None:
    client = RawClient(shared_acs.address)
    client.login()
    client.send_raw(b"1720250310    120000AODEMO|AB" + b"9" * 300 + b"|\r")
    assert client.read().message.command == "96"
    assert client.ask(sc_status()).command == "98"
    client.close()
