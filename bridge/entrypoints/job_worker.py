"""The rq worker class ``lockerbridge worker`` runs: rq's ``SimpleWorker`` with less Redis
traffic per job.

Jobs run in the worker process itself (no fork), so SIP2 connections, the database pool and the
runtime stay warm between jobs. Per job, stock rq sends its worker heartbeat three times (three
round trips each) and marks the worker idle twice; at tens of check-ins a second that is most of
the Redis traffic and a good part of the time. Here the heartbeat is sent at most every
``HEARTBEAT_EVERY`` seconds and an unchanged state is not written again. The heartbeat that goes
with each job's start (pipelined by rq) still runs every time, and its TTL is never shorter than
the idle one, so the worker's key outlives the longest blocking wait for a job.
"""

from __future__ import annotations

import time
from typing import Any

from rq import SimpleWorker
from rq.job import Job

# Far below the key's TTL (worker_ttl + 60 s, 480 s by default): monitoring sees a live worker.
HEARTBEAT_EVERY = 10.0


class JobWorker(SimpleWorker):
    """``SimpleWorker`` with throttled heartbeats and no repeated state writes."""

    _last_beat = float("-inf")

    def heartbeat(self, timeout: int | None = None, pipeline: Any | None = None) -> None:
        now = time.monotonic()
        if timeout is None and pipeline is None and now - self._last_beat < HEARTBEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline=pipeline)
        self._last_beat = now

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # Never shorter than the idle TTL: a skipped idle heartbeat must not let the key lapse
        # while the worker blocks waiting for the next job (up to worker_ttl - 15 s).
        return max(super().get_heartbeat_ttl(job, working_time), self.worker_ttl + 60)

    def set_state(self, state: str, pipeline: Any | None = None) -> None:
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline=pipeline)
