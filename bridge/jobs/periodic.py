"""Periodic jobs, run by rq's cron scheduler (``lockerbridge scheduler`` or a worker
started ``--with-scheduler``).

Each entry: (dotted path of a job function taking no arguments, queue, interval in seconds).
Jobs look everything up themselves through ``bridge.runtime.current()``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from redis import Redis
from rq.cron import CronScheduler

from bridge.config import Settings


def schedule(settings: Settings) -> list[tuple[str, str, int]]:
    return [
        ("bridge.services.sweeper.sweep_outbox", "default", settings.sweeper_interval_seconds),
        ("bridge.services.expiry.run_expiry", "default", 300),
        # "Door left open" alerts; the shortest bank setting is 10 s, a 30 s beat is enough.
        ("bridge.services.doors.checks.run_door_checks", "default", 30),
        ("bridge.services.retention.purge", "default", 3600),
        ("bridge.services.health.probe_ils", "default", 30),
        ("bridge.services.dayuse.run_dayuse", "default", 60),
        ("bridge.alerts.check.run_alert_checks", "default", 30),
    ]


def resolve(path: str) -> Callable[..., Any]:
    """The job function a ``schedule`` entry names."""
    # Imported by name (the services import the runtime, which this module must not import
    # first); a path that does not resolve stops the scheduler's start with the error.
    module, _, name = path.rpartition(".")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return func


def build_scheduler(settings: Settings, redis: Redis) -> CronScheduler:
    scheduler = CronScheduler(connection=redis, name=f"lockerbridge-{threading.get_ident()}")
    for path, queue, interval in schedule(settings):
        scheduler.register(resolve(path), queue_name=queue, interval=interval, job_timeout=600)
    return scheduler
