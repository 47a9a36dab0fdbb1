"""Real processes for the production tests: a private redis-server (and Sentinel), a throw-away
PostgreSQL database, the configuration file, and the ``lockerbridge`` / gunicorn commands.

Every process runs in its own session (process group), so tearing down gunicorn also reaches
its workers; :class:`Procs` kills whatever is still running when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.sandbox import RedisServer
from tests.support.config import REPO
from tests.support.db import PG_ADMIN_URL

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1) -> Any:
    """Polls ``check`` until it returns something truthy; bounded, with a readable failure."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a service still starting: keep polling
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def toml(data: dict[str, Any], prefix: str = "") -> str:
    """Just enough TOML for a Lockerbridge configuration (JSON scalars are valid TOML)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            arrays.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines) + "\n"
    for key, table in tables:
        out += f"\n[{prefix}{key}]\n" + toml(table, f"{prefix}{key}.")
    for key, items in arrays:
        for item in items:
            out += f"\n[[{prefix}{key}]]\n" + toml(item, f"{prefix}{key}.")
    return out


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database with a unique name; dropped afterwards."""
    name = f"lb_topo_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def gunicorn_argv(port: int, *, workers: int, threads: int | None = None) -> list[str]:
    """The production web command: gunicorn with the project's config, bound to ``port``."""
    argv = [str(BIN / "gunicorn"), "--config", "python:bridge.entrypoints.gunicorn_conf"]
    argv += ["--workers", str(workers)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return [*argv, "--bind", f"127.0.0.1:{port}", "bridge.entrypoints.wsgi:app"]


class Procs:
    """Starts commands in their own process groups and makes sure they all end."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: Sequence[str], **env: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            list(argv),
            cwd=REPO,
            env={**self.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.running[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, timeout: float = 15.0) -> int | None:
        proc = self.running.pop(name, None)
        if proc is None:
            return None
        return stop_group(proc, timeout)

    def stop_all(self) -> None:
        # Reverse order: web and workers before the services they use.
        for name in reversed(list(self.running)):
            self.stop(name)


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM to the process group, SIGKILL after ``timeout``; then whatever is left of the
    group (a child that outlived its parent) is killed too."""
    status = None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            status = proc.wait(timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return status if status is not None else proc.poll()


def run(
    argv: Sequence[str], env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Runs a command to its end (in its own group, killed entirely on a time-out)."""
    proc = subprocess.Popen(
        list(argv),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{argv} did not end in {timeout:g} s:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def started_redis(directory: Path, *, sentinel_of: tuple[str, int] | None = None) -> RedisServer:
    """A started private ``redis-server`` on a free port (no persistence), or a Sentinel."""
    if redis_server_binary() is None:
        raise RuntimeError("redis-server is not installed")
    server = RedisServer(directory, sentinel_of=sentinel_of)
    server.start()
    return server
