"""The rq worker and scheduler processes."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from rq import SimpleWorker

from bridge.config import Settings
from bridge.controllers import keep_mqtt_listeners
from bridge.periodic import build_scheduler
from bridge.runtime import QUEUE_NAMES, Runtime, install

log = logging.getLogger(__name__)
_SCHEDULER_LOCK = "lockerbridge:scheduler:leader"


def _scheduler_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Runs periodic jobs; with several schedulers only the lock holder enqueues."""
    scheduler = build_scheduler(runtime.settings, runtime.redis)
    scheduler.register_birth()
    me = scheduler.name
    try:
        while not stop.is_set():
            leader = runtime.redis.set(_SCHEDULER_LOCK, me, nx=True, ex=30)
            if not leader and runtime.redis.get(_SCHEDULER_LOCK) == me.encode():
                runtime.redis.expire(_SCHEDULER_LOCK, 30)
                leader = True
            if leader and scheduler.enqueue_jobs():
                scheduler.save()
            scheduler.heartbeat()
            stop.wait(min(5.0, max(0.5, scheduler.calculate_sleep_interval())))
    finally:
        scheduler.register_death()
        if runtime.redis.get(_SCHEDULER_LOCK) == me.encode():
            runtime.redis.delete(_SCHEDULER_LOCK)


def _started(settings: Settings, role: str) -> Runtime:
    """The runtime, after the start-up checks (``bridge.startup``); nothing is registered in
    Redis before they pass."""
    from bridge.startup import prepare

    runtime = Runtime.from_settings(settings)
    try:
        prepare(runtime, role)
    except BaseException:
        runtime.close()
        raise
    install(runtime)
    return runtime


def run_worker(settings: Settings, *, with_scheduler: bool = False, burst: bool = False) -> int:
    runtime = _started(settings, "worker")
    stop = threading.Event()
    thread = None
    if with_scheduler:
        thread = threading.Thread(target=_scheduler_loop, args=(runtime, stop), daemon=True)
        thread.start()
    if not burst:
        # Controller events of MQTT banks (bridge.controllers); the web answers HTTP ones.
        threading.Thread(
            target=keep_mqtt_listeners, args=(runtime, stop), daemon=True, name="mqtt"
        ).start()
    # SimpleWorker runs jobs in this process, so SIP2 connections stay open between jobs
    # (a forking worker would log in again for every check-in).
    worker = SimpleWorker([runtime.queue(n) for n in QUEUE_NAMES], connection=runtime.redis)
    log.info("worker %s listening on %s (pid %d)", worker.name, ", ".join(QUEUE_NAMES), os.getpid())
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=5)
        runtime.close()
    return 0


def run_scheduler(settings: Settings) -> int:
    runtime = _started(settings, "scheduler")
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler started (pid %d)", os.getpid())
    _scheduler_loop(runtime, stop)
    time.sleep(0)
    runtime.close()
    return 0
