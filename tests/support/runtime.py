"""Runtimes for tests: over a given database, Redis, clock and fake ILS, as a process's
start-up builds them; and the process-wide one that jobs look up (``bridge.runtime.current()``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bridge.config import Settings
from bridge.runtime import Runtime, install
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from tests.support.clock import Clock
from tests.support.config import base_config


@contextlib.contextmanager
def installed(rt: Runtime) -> Iterator[Runtime]:
    """``rt`` is what ``current()`` returns inside the block, as in a worker; the previous one
    is put back afterwards."""
    previous = install(rt)
    try:
        yield rt
    finally:
        install(previous)


def flow_config(tmp_path: Path, **over: Any) -> dict[str, Any]:
    """``base_config`` with simulated doors (no delay) at every bank that names no driver."""
    cfg = base_config(tmp_path, **over)
    for bank in cfg["banks"]:
        bank.setdefault("driver", {"kind": "simulated", "door_delay_seconds": 0.0})
    return cfg


def make_runtime(
    settings: Settings, engine: Engine, redis: Any, clock: Clock, ils: Any | None
) -> Runtime:
    """A runtime with its banks in the database and its handlers assembled; ``ils`` (the
    in-memory ILS) answers for every bank, None leaves the configured ILS."""
    rt = Runtime.over(settings, engine, redis, clock)
    if ils is not None:
        for bank in settings.banks:
            rt.cached(f"ils:{bank.id}", lambda: ils)
    sync_banks(rt)
    return assemble(rt)  # as every process's start-up does
