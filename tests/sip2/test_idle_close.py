"""Sessions closed after an idle time, heartbeats only while they are meant to stay open, and
no heartbeat at all when it is turned off: seen from the reference ACS's side."""

from __future__ import annotations

import time

from sip2.acs.server import ReferenceACS
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount

MAIN = SipAccount("lockers-main", "demo-main", location="MAIN-LOCKER", institution="DEMO")


def _client(acs: ReferenceACS, **over: object) -> SipClient:
    host, port = acs.address
    values: dict[str, object] = {"host": host, "port": port, "request_timeout": 2.0}
    values.update(over)
    return SipClient.for_server(ServerConfig(**values), MAIN)  # type: ignore[arg-type]


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_an_idle_session_is_closed_after_the_idle_time_despite_heartbeats(
    acs: ReferenceACS,
) -> None:
    # The server drops sessions silent for 0.3 s; heartbeats keep ours until our own 0.8 s.
    acs.faults.idle_timeout = 0.3
    with _client(acs, heartbeat_interval=0.1, idle_close=0.8) as client:
        client.sc_status()
        time.sleep(0.5)
        assert acs.connection_count == 1  # kept alive past the server's idle timeout
        assert _wait_for(lambda: acs.connection_count == 0, 1.5)
        assert client.pool.stats()["open"] == 0
        assert client.sc_status().online is not False  # and opened again when needed


def test_idle_close_zero_closes_the_session_after_each_request(acs: ReferenceACS) -> None:
    with _client(acs, heartbeat_interval=30.0, idle_close=0.0) as client:
        client.sc_status()
        assert client.pool.stats()["open"] == 0
        assert _wait_for(lambda: acs.connection_count == 0, 1.0)
        client.sc_status()
        assert client.pool.stats()["connects"] == 2


def test_without_heartbeat_an_idle_session_is_left_to_the_servers_timeout(
    acs: ReferenceACS,
) -> None:
    acs.faults.idle_timeout = 0.2
    with _client(acs, heartbeat_interval=None) as client:
        client.sc_status()
        assert _wait_for(lambda: acs.connection_count == 0, 1.5)  # no 99 kept it
        assert client.sc_status().online is not False  # a new session, transparently
