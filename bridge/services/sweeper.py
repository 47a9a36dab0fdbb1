"""Periodic re-enqueueing of outbox work whose job was lost (worker killed, Redis restarted).

Deposits waiting for an ILS are made due first when that ILS answers a ping again, so a replay
starts within one sweeper interval of the ILS coming back, whatever their backoff had reached.
"""

from __future__ import annotations

import logging

from bridge.infra import outbox
from bridge.runtime import Runtime, current
from bridge.services import offline_loans
from bridge.services.deposits import release_abandoned_scans
from bridge.services.returns.checkin import replay_waiting

log = logging.getLogger(__name__)


def sweep_outbox(rt: Runtime | None = None) -> int:
    rt = rt or current()

    try:
        # Offline loans first: an item's loan must reach the ILS before its later return.
        offline_loans.replay_waiting(rt)
    except Exception:
        log.exception("could not check for offline loans to send")
    try:
        replay_waiting(rt)
    except Exception:  # the sweep below must run even if the replay probe cannot
        log.exception("could not check for deposits to replay")
    try:
        release_abandoned_scans(rt)
    except Exception:
        log.exception("could not release abandoned return scans")
    n = outbox.sweep(rt)
    if n:
        log.info("sweeper re-enqueued %d outbox row(s)", n)
    return n
