"""The rq worker and scheduler processes."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pkgutil
import signal
import threading
import time

from redis.exceptions import RedisError
from rq.cron import CronScheduler

import bridge.jobs
from bridge.config import Settings
from bridge.entrypoints.job_worker import JobWorker
from bridge.jobs.periodic import build_scheduler
from bridge.runtime import QUEUE_NAMES, Runtime, install
from bridge.services.controllers import keep_mqtt_listeners
from bridge.startup import prepare

log = logging.getLogger(__name__)
_SCHEDULER_LOCK = "lockerbridge:scheduler:leader"
_RETRY_FIRST, _RETRY_MAX = 0.5, 10.0  # seconds between scheduler rounds while Redis is away


def _scheduler_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Runs periodic jobs; with several schedulers only the lock holder enqueues.

    Survives Redis going away: each failed round is logged and retried with a backoff (at
    most ``_RETRY_MAX`` seconds apart), and the first round that gets through re-registers
    the scheduler in the (possibly emptied) Redis and enqueues whatever came due meanwhile.
    """
    scheduler = build_scheduler(runtime.settings, runtime.redis)
    me = scheduler.name
    registered, retry = False, _RETRY_FIRST
    try:
        while not stop.is_set():
            try:
                if not registered:
                    scheduler.register_birth()
                    registered = True
                _scheduler_round(runtime, scheduler, me)
            except Exception as exc:  # the periodic jobs must outlive any outage
                if isinstance(exc, RedisError):
                    log.warning("scheduler: Redis unreachable (%s); retry in %.1f s", exc, retry)
                else:
                    log.exception("scheduler: round failed; retry in %.1f s", retry)
                stop.wait(retry)
                retry = min(retry * 2, _RETRY_MAX)
                continue
            if retry != _RETRY_FIRST:
                log.warning("scheduler: rounds get through again; periodic jobs resume")
                retry = _RETRY_FIRST
            stop.wait(min(5.0, max(0.5, scheduler.calculate_sleep_interval())))
    finally:
        with contextlib.suppress(RedisError):
            scheduler.register_death()
            if runtime.redis.get(_SCHEDULER_LOCK) == me.encode():
                runtime.redis.delete(_SCHEDULER_LOCK)


def _scheduler_round(runtime: Runtime, scheduler: CronScheduler, me: str) -> None:
    leader = runtime.redis.set(_SCHEDULER_LOCK, me, nx=True, ex=30)
    if not leader and runtime.redis.get(_SCHEDULER_LOCK) == me.encode():
        runtime.redis.expire(_SCHEDULER_LOCK, 30)
        leader = True
    if leader and scheduler.enqueue_jobs():
        scheduler.save()
    scheduler.heartbeat()  # re-registers in a Redis that lost the registry


def _started(settings: Settings, role: str) -> Runtime:
    """The runtime, after the start-up checks (``bridge.startup``); nothing is registered in
    Redis before they pass."""

    runtime = Runtime.from_settings(settings)
    try:
        prepare(runtime, role)
    except BaseException:
        runtime.close()
        raise
    install(runtime)
    return runtime


# Imported by the first check-in when the bank's ILS adapter is built (bridge.services.wiring).
_ADAPTER_MODULES = ("ils_adapters.profiles", "ils_adapters.sip2_adapter", "bridge.infra.metrics")


def _import_jobs() -> None:
    """Imports every job module (and what building an ILS adapter imports) now: rq would
    import them during the first job, and the check-in job's imports (NCIP client, requests,
    ...) take a second or more of that job's time, with every worker starting at once."""

    for module in pkgutil.iter_modules(bridge.jobs.__path__, "bridge.jobs."):
        importlib.import_module(module.name)
    for name in _ADAPTER_MODULES:
        importlib.import_module(name)


def run_worker(settings: Settings, *, with_scheduler: bool = False, burst: bool = False) -> int:
    runtime = _started(settings, "worker")
    stop = threading.Event()
    thread = None
    if with_scheduler:
        thread = threading.Thread(target=_scheduler_loop, args=(runtime, stop), daemon=True)
        thread.start()
    if not burst:
        # Controller events of MQTT banks (bridge.services.controllers); the web answers HTTP ones.
        threading.Thread(
            target=keep_mqtt_listeners, args=(runtime, stop), daemon=True, name="mqtt"
        ).start()
    # Jobs run in this process (rq SimpleWorker), so SIP2 connections stay open between jobs
    # (a forking worker would log in again for every check-in); see bridge.entrypoints.job_worker.
    _import_jobs()
    worker = JobWorker([runtime.queue(n) for n in QUEUE_NAMES], connection=runtime.redis)
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
