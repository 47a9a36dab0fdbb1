"""The periodic jobs outlive a Redis outage: ``lockerbridge scheduler`` keeps running while its
Redis is killed, and once Redis is back (empty, as after a crash without persistence) it
registers again and goes on enqueueing the sweeper, expiry and the other periodic jobs, without a
restart by the operator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from redis import Redis

from tests import sandbox
from tests.topology.procs import BIN, Procs, wait_until

pytestmark = pytest.mark.slow


def _enqueued(port: int) -> int:
    try:
        return int(Redis(port=port, socket_connect_timeout=0.5).llen("rq:queue:default"))
    except Exception:
        return 0


def test_the_scheduler_survives_redis_going_away_and_enqueues_again(tmp_path: Path) -> None:
    redis = sandbox.RedisServer(tmp_path)
    redis.start()
    db = sandbox.Database("sqlite", tmp_path)
    config = tmp_path / "lockerbridge.toml"
    acs_port = sandbox.free_port()  # nobody listens: the ILS probe fails, which is fine here
    config.write_text(
        sandbox.config_toml(db.url, redis.url, acs_port, "s" * 40, sweep_seconds=2)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
    env.update(LOCKERBRIDGE_CONFIG=str(config), LOCKERBRIDGE_LOG_LEVEL="INFO")
    procs = Procs(tmp_path / "logs", env)
    try:
        scheduler = procs.start("scheduler", [str(BIN / "lockerbridge"), "scheduler"])
        wait_until(lambda: _enqueued(redis.port) > 0, timeout=30, what="first periodic jobs")

        redis.kill()
        wait_until(
            lambda: "Redis unreachable" in procs.log("scheduler"),
            timeout=20,
            what="the scheduler noticing the outage",
        )
        assert scheduler.poll() is None, procs.log("scheduler")[-2000:]

        redis.start()  # same port, nothing in it
        wait_until(
            lambda: _enqueued(redis.port) > 0,
            timeout=30,
            what="periodic jobs enqueued again after Redis came back",
        )
        assert scheduler.poll() is None
        # It is the leader again (its lock was lost with the data).
        assert Redis(port=redis.port).get("lockerbridge:scheduler:leader") is not None
    finally:
        procs.stop_all()
        redis.kill()
        db.drop()
