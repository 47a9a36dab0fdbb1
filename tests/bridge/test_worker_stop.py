"""`lockerbridge worker` stops promptly on SIGTERM, as `docker stop` or systemd ask it to.

With redis-py 8.2 (and rq 3.0) a worker's teardown waited for rq's pub/sub thread, which can
sit in a read of up to 60 s: about one stop in three took a minute. Whether it happens is a race,
so several workers are stopped at once; with the pinned versions none may be slow.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Worker

from bridge.storage.db import make_engine
from bridge.storage.migrate import upgrade
from tests.sandbox import config_toml
from tests.support.config import REPO

WORKERS = 3
STOP_BUDGET_SECONDS = 10.0


def test_workers_stop_within_seconds_of_sigterm(
    tmp_path: Path, embedded_redis: Any, redis_conn: Redis
) -> None:
    db_url = f"sqlite:///{tmp_path}/worker.db"
    upgrade(make_engine(db_url))
    cfg = tmp_path / "lockerbridge.toml"
    cfg.write_text(config_toml(db_url, embedded_redis.url, 9, "s" * 40))
    procs = [
        subprocess.Popen(
            # As the demo runs it: the periodic-job scheduler in the worker too.
            [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(cfg), "worker", "--with-scheduler"],
            cwd=REPO,
            env=dict(os.environ, LOCKERBRIDGE_CONFIG=str(cfg)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(WORKERS)
    ]
    took: list[float] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(Worker.all(connection=redis_conn)) < WORKERS:
            for proc in procs:
                assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
            time.sleep(0.2)
        assert len(Worker.all(connection=redis_conn)) == WORKERS, "the workers never registered"
        time.sleep(2)  # each settles into waiting for work
        asked = time.monotonic()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
            took.append(time.monotonic() - asked)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outs = [proc.communicate()[0].decode()[-1500:] for proc in procs]
    assert max(took) < STOP_BUDGET_SECONDS, f"stopping took {took} s:\n" + "\n".join(outs)
    assert [proc.returncode for proc in procs] == [0] * WORKERS, "\n".join(outs)
    assert Worker.all(connection=redis_conn) == [], "a worker left its registration behind"
