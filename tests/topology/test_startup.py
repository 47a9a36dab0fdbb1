"""A process that cannot work says why in one line and does not start half-way.

Each case runs the real commands (``lockerbridge web``, ``worker``, ``scheduler`` and gunicorn
with the production settings) side by side as subprocesses: a missing secret file, an
unreachable database, and a database whose schema is behind the code.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Worker
from sqlalchemy import create_engine, inspect, text

from bridge.storage.db import make_engine
from bridge.storage.migrate import upgrade
from tests.support.config import base_config
from tests.topology.procs import (
    BIN,
    RedisServer,
    free_port,
    group_alive,
    gunicorn_argv,
    pg_database,
    port_open,
    redis_server_binary,
    started_redis,
    toml,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    server = started_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.close()


def _env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
    env.update(LOCKERBRIDGE_CONFIG=str(config), LOCKERBRIDGE_LOG_LEVEL="WARNING", **extra)
    return env


def _config(tmp_path: Path, database_url: str, redis_url: str) -> Path:
    cfg = base_config(tmp_path, database_url=database_url, redis_url=redis_url)
    path = tmp_path / "lockerbridge.toml"
    path.write_text(toml(cfg))
    return path


def _commands(web_port: int, gunicorn_port: int) -> dict[str, list[str]]:
    return {
        "web": [str(BIN / "lockerbridge"), "web", "--port", str(web_port)],
        "worker": [str(BIN / "lockerbridge"), "worker"],
        "scheduler": [str(BIN / "lockerbridge"), "scheduler"],
        "gunicorn": gunicorn_argv(gunicorn_port, workers=2),
    }


def _start_all(env: dict[str, str]) -> dict[str, Any]:
    """Runs every role at once; returns name -> (exit status, stderr, pid, ports)."""
    web_port, gunicorn_port = free_port(), free_port()
    procs = {
        name: subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for name, argv in _commands(web_port, gunicorn_port).items()
    }
    out: dict[str, Any] = {}
    try:
        for name, proc in procs.items():
            _stdout, stderr = proc.communicate(timeout=90)
            out[name] = (proc.returncode, stderr, proc.pid)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    out["ports"] = (web_port, gunicorn_port)
    return out


def _one_clear_line(stderr: str) -> str:
    ours = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert "Traceback" not in stderr, stderr
    assert len(ours) == 1, stderr
    return ours[0]


def _assert_refused(results: dict[str, Any], redis: Redis, *words: str) -> None:
    for name in ("web", "worker", "scheduler", "gunicorn"):
        status, stderr, pid = results[name]
        assert status != 0, f"{name} started: {stderr}"
        line = _one_clear_line(stderr)
        for word in words:
            assert word in line, f"{name}: {line}"
        assert not group_alive(pid), f"{name} left processes behind"
    assert not any(port_open(p) for p in results["ports"]), "a port was bound"
    assert Worker.all(connection=redis) == [], "an rq worker registered itself"
    assert redis.get("lockerbridge:scheduler:leader") is None


def test_a_missing_secret_file_is_named_and_nothing_starts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path}/lb.db", redis_server.url)
    env = _env(config, LOCKERBRIDGE_WEB__SECRET_KEY_FILE=str(tmp_path / "no-such-secret"))

    results = _start_all(env)

    _assert_refused(
        results,
        Redis.from_url(redis_server.url),
        "LOCKERBRIDGE_WEB__SECRET_KEY_FILE",
        "no-such-secret",
    )
    assert not (tmp_path / "lb.db").exists(), "the database was touched"


def test_an_unreachable_database_is_named_and_nothing_starts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    closed = free_port()
    config = _config(
        tmp_path, f"postgresql://postgres@127.0.0.1:{closed}/lockers", redis_server.url
    )

    results = _start_all(_env(config))

    _assert_refused(results, Redis.from_url(redis_server.url), "unreachable", f":{closed}/lockers")


def test_a_schema_behind_the_code_asks_for_an_upgrade_and_nothing_starts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    with pg_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        # An upgrade that stopped half-way: one table missing, no revision recorded.
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE audit_event"))
            conn.execute(text("DELETE FROM alembic_version"))
        engine.dispose()
        config = _config(tmp_path, url, redis_server.url)

        results = _start_all(_env(config))

        _assert_refused(
            results, Redis.from_url(redis_server.url), "not up to date", "lockerbridge db upgrade"
        )
        check = create_engine(make_engine(url).url)
        with check.connect() as conn:
            assert "audit_event" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT count(*) FROM bank")).scalar() == 0
        check.dispose()


def test_a_bare_gunicorn_without_our_settings_also_stops_with_the_reason(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    closed = free_port()
    config = _config(
        tmp_path, f"postgresql://postgres@127.0.0.1:{closed}/lockers", redis_server.url
    )
    port = free_port()
    proc = subprocess.run(
        [
            str(BIN / "gunicorn"),
            "--no-control-socket",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "bridge.entrypoints.wsgi:app",
        ],
        env=_env(config),
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert proc.returncode != 0
    assert f"lockerbridge: error: database postgresql+psycopg://postgres@127.0.0.1:{closed}" in (
        proc.stderr
    )
    assert not port_open(port)
