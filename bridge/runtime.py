"""What a process needs at run time, built once from the settings and passed around.

No module globals: the web app keeps it in ``app.extensions["lockerbridge"]``; rq jobs build it
from the configuration the worker was started with (``current()``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.config import Settings, load_settings
from bridge.infra.redis_conn import connect, embedded_for
from bridge.storage.db import make_engine, session_factory
from bridge.storage.sealed import register_keys

QUEUE_NAMES = ("checkins", "notifications", "default")


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    clock: Callable[[], datetime] = utc_clock
    # Built on first use and shared by threads: SIP2 pools, locker drivers, ...
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # However a runtime is built, the notification secrets it writes can be sealed.
        register_keys(self.settings.security.code_keys)

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None = None) -> Runtime:
        engine = make_engine(settings.database_url)
        if redis is None:
            url = settings.redis_url
            if url == "embedded":
                url = embedded_for(settings.database_url)
            redis = connect(url, settings.redis_sentinels)
        return cls.over(settings, engine, redis)

    @classmethod
    def over(
        cls,
        settings: Settings,
        engine: Engine,
        redis: Redis,
        clock: Callable[[], datetime] = utc_clock,
    ) -> Runtime:
        """A runtime over an engine and a Redis connection the caller already holds."""
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            redis=redis,
            clock=clock,
        )

    def queue(self, name: str = "default") -> Queue:
        return Queue(name, connection=self.redis)

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """One shared instance per key (e.g. the SIP2 pool of an ILS), built once."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def close(self) -> None:
        for value in self._cache.values():
            closer = getattr(value, "close", None)
            if callable(closer):
                closer()
        self._cache.clear()
        self.engine.dispose()


_process_runtime: Runtime | None = None
_process_lock = threading.Lock()


def current() -> Runtime:
    """The runtime of this worker process, built from ``$LOCKERBRIDGE_CONFIG`` on first use."""
    global _process_runtime
    with _process_lock:
        if _process_runtime is None:
            _process_runtime = Runtime.from_settings(
                load_settings(os.environ.get("LOCKERBRIDGE_CONFIG"))
            )
        return _process_runtime


def install(runtime: Runtime | None) -> Runtime | None:
    """Makes ``runtime`` the one ``current()`` returns (worker start-up, tests); returns the one
    it replaces, so a test can put that back (None: ``current()`` builds one on first use)."""
    global _process_runtime
    with _process_lock:
        previous, _process_runtime = _process_runtime, runtime
    return previous
