"""Periodic re-enqueueing of outbox work whose job was lost (worker killed, Redis restarted)."""

from __future__ import annotations

import logging

from bridge import outbox
from bridge.runtime import current

log = logging.getLogger(__name__)


def sweep_outbox() -> int:
    n = outbox.sweep(current())
    if n:
        log.info("sweeper re-enqueued %d outbox row(s)", n)
    return n
