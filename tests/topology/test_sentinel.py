"""Redis through Sentinel: the configured service is found, and a failover is followed.

A real ``redis-server`` primary and replica on free ports, and a real Sentinel
(``redis-server --sentinel``) watching them under the service name "lockerbridge".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from bridge.config import load_settings
from bridge.infra.redis_conn import connect
from bridge.runtime import Runtime
from tests.support.config import base_config
from tests.topology.procs import (
    RedisServer,
    redis_server_binary,
    started_redis,
    stop_group,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    redis_server_binary() is None, reason="the redis-server binary is not installed"
)


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.servers: list[RedisServer] = []
        self.primary = self._add(started_redis(directory / "primary"))
        self.replica = self._add(started_redis(directory / "replica"))
        Redis(port=self.replica.port).replicaof("127.0.0.1", self.primary.port)
        wait_until(
            lambda: Redis(port=self.replica.port).info("replication")["master_link_status"] == "up",
            timeout=30,
            what="the replica to follow the primary",
        )
        self.sentinel = self._add(
            started_redis(directory / "sentinel", sentinel_of=("127.0.0.1", self.primary.port))
        )
        wait_until(self._replica_known, timeout=30, what="the sentinel to discover the replica")

    def _add(self, server: RedisServer) -> RedisServer:
        self.servers.append(server)
        return server

    def _replica_known(self) -> bool:
        replicas = Redis(port=self.sentinel.port).sentinel_slaves("lockerbridge")
        return any(r["port"] == self.replica.port and r["is_slave"] for r in replicas)

    @property
    def sentinels(self) -> list[str]:
        return [f"127.0.0.1:{self.sentinel.port}"]

    def close(self) -> None:
        for server in reversed(self.servers):
            server.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    try:
        yield made
    finally:
        made.close()


def test_connecting_through_sentinel_reaches_the_primary(cluster: Cluster) -> None:
    conn = connect("redis://lockerbridge", cluster.sentinels)

    conn.set("lockerbridge:probe", b"through-sentinel")

    assert Redis(port=cluster.primary.port).get("lockerbridge:probe") == b"through-sentinel"
    conn.close()


def test_the_runtime_queues_work_through_sentinel(cluster: Cluster, tmp_path: Path) -> None:
    cfg = base_config(tmp_path, redis_url="redis://lockerbridge", redis_sentinels=cluster.sentinels)
    rt = Runtime.from_settings(load_settings(None, **cfg))
    try:
        rt.queue("checkins").enqueue("bridge.jobs.returns.checkin_deposit", "deposit_checkin", "1")
        assert Redis(port=cluster.primary.port).llen("rq:queue:checkins") == 1
    finally:
        rt.close()


def test_after_a_failover_writes_go_to_the_new_primary(cluster: Cluster) -> None:
    conn = connect("redis://lockerbridge", cluster.sentinels)
    conn.set("before", b"1")
    wait_until(
        lambda: Redis(port=cluster.replica.port).get("before") == b"1",
        timeout=30,
        what="the write to reach the replica",
    )

    # Sentinel answers NOGOODSLAVE until its next INFO poll of the replica (every ~10 s).
    wait_until(
        lambda: Redis(port=cluster.sentinel.port).sentinel_failover("lockerbridge"),
        timeout=45,
        every=1.0,
        what="the sentinel to accept the failover",
    )
    wait_until(
        lambda: (
            Redis(port=cluster.sentinel.port).sentinel_get_master_addr_by_name("lockerbridge")[1]
            == cluster.replica.port
        ),
        timeout=60,
        what="the sentinel to promote the replica",
    )
    # The old primary is gone for good; the client must find the new one by asking Sentinel.
    stop_group(cluster.primary.proc, timeout=10)
    wait_until(lambda: conn.set("after", b"2"), timeout=60, what="a write after the failover")

    assert Redis(port=cluster.replica.port).get("after") == b"2"
    assert Redis(port=cluster.replica.port).info("replication")["role"] == "master"
    conn.close()


def test_no_sentinel_answering_is_one_readable_error() -> None:
    from bridge.infra.redis_conn import RedisUnavailable
    from tests.topology.procs import free_port

    with pytest.raises(RedisUnavailable, match="unreachable"):
        connect("redis://lockerbridge", [f"127.0.0.1:{free_port()}"])
