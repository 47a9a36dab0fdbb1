"""gunicorn settings for the web role; each can be overridden with GUNICORN_* variables."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from prometheus_client import multiprocess

from bridge.config import load_settings
from bridge.startup import check_settings, exit_with, start_failure

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(4, multiprocessing.cpu_count() * 2))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
# Each process opens its own SIP2 connections after the fork, never before.
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which
# two servers on a host would fight over; it is on only when given a path of its own.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


def on_starting(server: Any) -> None:
    """Start-up checks in the master, before any port is bound or worker forked: a missing
    secret, an unreachable database or Redis, or a schema behind the code stops here with one
    line (``bridge.startup``)."""

    try:
        check_settings(load_settings())
    except Exception as exc:
        line = start_failure(exc)
        if line is None:
            raise
        exit_with(line, 1)


def child_exit(server: Any, worker: Any) -> None:
    # Live gauges of a dead process must not be summed any more (counters are kept).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
