"""Whether an ILS is known to be down, shared by every process through Redis.

A patron at a kiosk must not wait for connect timeouts and retries against a catalogue that
the last request already found unreachable. A failed SIP2 connect or a timeout (any
:class:`ils_adapters.base.IlsUnavailable`) marks the ILS down for ``RECHECK_SECONDS``; while
the mark lasts, pickups skip the ILS at once (and lend offline where the bank allows it). The
mark clears when the periodic probe (``services.health.probe_ils``, every 30 s) or any later
request gets through; when it simply runs out, the next request tries the ILS again.

``down_since`` survives the short marks: it is when the current outage began, kept until the
ILS answers, so the bank's ``offline_max_hours`` counts from the start of the outage.

Redis unreachable reads as "not known to be down": the request then tries the ILS itself.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bridge.runtime import Runtime

log = logging.getLogger(__name__)

RECHECK_SECONDS = 20
_DOWN = "lockerbridge:ils:down:{name}"
_SINCE = "lockerbridge:ils:down-since:{name}"
# The start of an outage is forgotten a week after the last failure that renewed it.
_SINCE_KEEP = 7 * 24 * 3600


def ils_of(rt: Runtime, bank_id: str) -> str:
    return rt.settings.bank(bank_id).ils


def is_down(rt: Runtime, ils: str) -> bool:
    try:
        return bool(rt.redis.exists(_DOWN.format(name=ils)))
    except Exception:  # Redis down: let the request find out for itself
        return False


def mark_down(rt: Runtime, ils: str, why: str) -> None:
    now = rt.clock().isoformat()
    try:
        with rt.redis.pipeline(transaction=False) as pipe:
            pipe.set(_DOWN.format(name=ils), why[:200], ex=RECHECK_SECONDS)
            pipe.set(_SINCE.format(name=ils), now, nx=True)
            pipe.expire(_SINCE.format(name=ils), _SINCE_KEEP)
            pipe.execute()
    except Exception as exc:
        log.warning("could not record that ILS %s is down (%s)", ils, exc)


def mark_up(rt: Runtime, ils: str) -> None:
    try:
        rt.redis.delete(_DOWN.format(name=ils), _SINCE.format(name=ils))
    except Exception as exc:
        log.warning("could not record that ILS %s answers (%s)", ils, exc)


def down_since(rt: Runtime, ils: str) -> datetime | None:
    """When the current outage began, or None when the ILS is not known to be down."""
    try:
        raw = rt.redis.get(_SINCE.format(name=ils))
    except Exception:
        return None
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        return None
