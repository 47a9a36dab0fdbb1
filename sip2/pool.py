"""At most N connections to one ACS, shared by threads, with heartbeat and reconnect backoff.

One pool per ILS (``ServerConfig``); connections are logged in per :class:`SipAccount` (one
per locker bank), and all accounts share the pool's budget: when it is spent and another
account's connection is idle, one is closed to make room: the least busy login's
(:mod:`sip2.busy`), so a bank with many deposits keeps its session while single deposits at
other banks come and go. A background thread sends 99 on connections idle for
``heartbeat_interval`` (Koha drops idle ones) and drops dead ones.
With ``idle_close`` it closes connections that had no request for that long instead of keeping
them alive (a pre-forking server ties a worker to each session: idle ones starve the other
processes); heartbeats then run only within that time.

Connect failures back off exponentially (``backoff_initial`` doubling to ``backoff_max``);
while backing off, requests fail at once with :class:`IlsUnavailable` instead of piling up.
After ``os.fork`` (rq work horses) a pool forgets its parent's sockets and starts afresh.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sip2.busy import Busyness
from sip2.config import ServerConfig, SipAccount
from sip2.connection import Clock, Connection, ConnectionLost
from sip2.errors import IlsUnavailable, SipError

log = logging.getLogger(__name__)

Connector = Callable[[ServerConfig, SipAccount], Connection]
DEFAULT_MAX_CONNECTIONS = 2

# Bumped in every forked child, so that a pool can tell it now lives in another process.
_generation = 0


def _forked() -> None:
    global _generation  # process-wide by nature
    _generation += 1


os.register_at_fork(after_in_child=_forked)


class SipPool:
    """Thread-safe pool of logged-in connections to one ACS."""

    def __init__(
        self,
        server: ServerConfig,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        clock: Clock = time.monotonic,
        connector: Connector | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.server = server
        self.max_connections = max_connections
        self._clock = clock
        self._connector: Connector = connector or (
            lambda s, a: Connection.open(s, a, clock=self._clock)
        )
        self._lock = threading.Condition()
        self._idle: list[Connection] = []
        self._busy = Busyness()
        self._open = 0  # idle + in use + being opened
        self._failures = 0
        self._retry_at = 0.0
        self._connects = 0  # connections opened so far: reconnects show up here
        self._generation = _generation
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._heartbeat_checked = False  # _start_heartbeat ran (it may have started nothing)
        self._closed = False

    # ------------------------------------------------------------------ borrowing

    @contextmanager
    def connection(
        self, account: SipAccount, *, timeout: float | None = None
    ) -> Iterator[Connection]:
        """Borrow a logged-in connection for ``account``; it returns to the pool afterwards.

        A connection that failed (closed session) is dropped instead. Raises
        :class:`IlsUnavailable` when the ACS is unreachable, backing off, or every connection
        stays busy for ``timeout`` (default: the server's request timeout).
        """
        conn = self.acquire(account, timeout=timeout)
        try:
            yield conn
        finally:
            self.release(conn)

    def acquire(self, account: SipAccount, *, timeout: float | None = None) -> Connection:
        if self._generation != _generation:
            self._after_fork()
        if not self._heartbeat_checked:
            self._start_heartbeat()
        # Sessions dropped here are closed after the lock is let go, so that other threads do
        # not wait on our socket calls; still before the new connect, so that a server with a
        # worker per session has the evicted one's worker free for it.
        dropped: list[Connection] = []
        try:
            with self._lock:
                self._busy.borrowed(account)
                conn = self._wait_for_room(account, timeout, dropped)
        finally:
            for stale in dropped:
                stale.close()
        return conn if conn is not None else self._open_new(account)

    def _wait_for_room(
        self, account: SipAccount, timeout: float | None, dropped: list[Connection]
    ) -> Connection | None:
        """Under the lock: an idle session of ``account``, or None once one may be opened (then
        counted in ``_open``). Sessions taken out of the pool go to ``dropped`` to be closed."""
        deadline: float | None = None
        while True:
            if self._closed:
                raise IlsUnavailable("SIP2 pool is closed")
            conn = self._take_idle(account, dropped)
            if conn is not None:
                return conn
            if self._open < self.max_connections or self._evict_other(dropped):
                self._check_backoff()
                self._open += 1
                return None
            if deadline is None:
                wait = self.server.request_timeout if timeout is None else timeout
                deadline = self._clock() + wait
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise IlsUnavailable(
                    f"all {self.max_connections} SIP2 connections to {self.server.host} busy"
                )
            self._lock.wait(min(remaining, 0.5))

    def _take_idle(self, account: SipAccount, dropped: list[Connection]) -> Connection | None:
        idle = self._idle
        index = 0
        while index < len(idle):
            conn = idle[index]
            if conn.account != account:
                index += 1
                continue
            del idle[index]
            if conn.alive():
                return conn
            dropped.append(conn)
            self._open -= 1
        return None

    def _evict_other(self, dropped: list[Connection]) -> bool:
        # Only idle sessions of other logins are left here: _take_idle took this login's.
        index = self._busy.victim(self._idle)
        if index is None:
            return False
        dropped.append(self._idle.pop(index))
        self._open -= 1
        return True

    def _check_backoff(self) -> None:
        wait = self._retry_at - self._clock()
        if wait > 0:
            raise IlsUnavailable(
                f"{self.server.host}:{self.server.port} unreachable; next attempt in {wait:.1f} s"
            )

    def _open_new(self, account: SipAccount) -> Connection:
        try:
            conn = self._connector(self.server, account)
        except BaseException as exc:
            with self._lock:
                self._open -= 1
                if isinstance(exc, IlsUnavailable):
                    self._failures += 1
                    delay = min(
                        self.server.backoff_max,
                        self.server.backoff_initial * 2 ** (self._failures - 1),
                    )
                    # The first failure may be a server restarting: retry at once, once.
                    self._retry_at = self._clock() + (0.0 if self._failures == 1 else delay)
                self._lock.notify()
            raise
        with self._lock:
            self._failures = 0
            self._retry_at = 0.0
            self._connects += 1
        return conn

    def release(self, conn: Connection) -> None:
        with self._lock:
            if (
                conn.usable
                and not self._closed
                and self._generation == _generation
                and self.server.idle_close != 0
            ):
                self._idle.append(conn)
            else:
                conn.close()
                self._open -= 1
            self._lock.notify()

    # ------------------------------------------------------------------ upkeep

    def _after_fork(self) -> None:
        generation = _generation
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            for conn in self._idle:
                conn.transport.close()  # the child's copy only; the parent's stays open
            self._idle.clear()
            self._open = 0
            self._generation = generation
            self._heartbeat = None
            self._heartbeat_checked = False
            self._stop = threading.Event()

    def _start_heartbeat(self) -> None:
        interval = self.server.heartbeat_interval or 0.0
        idle_close = self.server.idle_close or 0.0
        if not (interval or idle_close) or self._heartbeat is not None:
            self._heartbeat_checked = True
            return
        with self._lock:
            if self._heartbeat is not None:
                return
            self._heartbeat = threading.Thread(
                target=self._beat, args=(interval, idle_close), name="sip2-heartbeat", daemon=True
            )
            self._heartbeat.start()
            self._heartbeat_checked = True

    def _beat(self, interval: float, idle_close: float) -> None:
        tick = min(1.0, min(t for t in (interval, idle_close) if t) / 4)
        while not self._stop.wait(tick):
            with self._lock:
                now = self._clock()
                stale = [c for c in self._idle if idle_close and now - c.last_used >= idle_close]
                due = [
                    c
                    for c in self._idle
                    if interval
                    and c not in stale
                    and now - max(c.last_used, c.last_heartbeat) >= interval
                ]
                for conn in stale:
                    self._idle.remove(conn)
                    self._open -= 1
                for conn in due:
                    self._idle.remove(conn)
                if stale:
                    self._lock.notify()
            for conn in stale:
                conn.close()
            if stale:
                log.debug("closed %d idle SIP2 connection(s) to %s", len(stale), self.server.host)
            for conn in due:
                try:
                    conn.heartbeat()
                except (ConnectionLost, SipError) as exc:
                    log.info("sip2 heartbeat to %s failed (%s); dropping it", self.server.host, exc)
                self.release(conn)

    def close(self) -> None:
        """Close idle connections and stop the heartbeat; borrowed ones close on release."""
        self._stop.set()
        with self._lock:
            self._closed = True
            for conn in self._idle:
                conn.close()
                self._open -= 1
            self._idle.clear()
            self._lock.notify_all()
        thread = self._heartbeat
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)

    def stats(self) -> dict[str, int]:
        """Open and idle connections now, and connections opened so far (health pages, tests)."""
        with self._lock:
            return {"open": self._open, "idle": len(self._idle), "connects": self._connects}
