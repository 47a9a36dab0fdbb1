"""Whether an ILS is known to be down, shared by every process through Redis.

A patron at a kiosk must not wait for connect timeouts and retries against a catalogue that
the last request already found unreachable. A failed SIP2 connect or a timeout (any
:class:`ils_adapters.base.IlsUnavailable`) marks the ILS down for its ``down_mark_seconds``
(``[[ils]]``, 20 by default); while the mark lasts, pickups skip the ILS at once (and lend
offline where the bank allows it). The mark clears when the periodic probe
(``services.health.probe_ils``, every 30 s) or any later request gets through; when it simply
runs out, the next request tries the ILS again.

``down_since`` survives the short marks: it is when the current outage began, kept until the
ILS answers, so the bank's ``offline_max_hours`` counts from the start of the outage.

Redis unreachable reads as "not known to be down": the request then tries the ILS itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from bridge.config import IlsSettings
from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work

log = logging.getLogger(__name__)

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
            pipe.set(_DOWN.format(name=ils), why[:200], ex=_mark_seconds(rt, ils))
            pipe.set(_SINCE.format(name=ils), now, nx=True)
            pipe.expire(_SINCE.format(name=ils), _SINCE_KEEP)
            pipe.execute()
    except Exception as exc:
        log.warning("could not record that ILS %s is down (%s)", ils, exc)


def _mark_seconds(rt: Runtime, ils: str) -> int:
    # An offline loan names the ILS it was made for, which may since have left the settings.
    for settings in rt.settings.ils:
        if settings.name == ils:
            return settings.down_mark_seconds
    return int(IlsSettings.model_fields["down_mark_seconds"].default)


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


def answering(
    rt: Runtime, waiting: Iterable[tuple[str, int]], ping: Callable[[str], bool]
) -> dict[str, list[int]]:
    """Of the rows waiting for their ILS (``(bank id, row id)``), those whose ILS answers a
    ping now (``ping(bank_id)`` with one bank of each ILS), by ILS, in the order given. Each
    ping sets or clears the ILS's mark. Rows of banks no longer configured are left out."""
    by_ils: dict[str, list[int]] = {}
    probe_bank: dict[str, str] = {}
    for bank_id, row_id in waiting:
        try:
            ils = rt.settings.bank(bank_id).ils
        except KeyError:
            continue
        by_ils.setdefault(ils, []).append(row_id)
        probe_bank.setdefault(ils, bank_id)
    up: dict[str, list[int]] = {}
    for ils, ids in by_ils.items():
        try:
            answered = bool(ping(probe_bank[ils]))
        except Exception as exc:  # a failed probe only means "not yet"
            log.info("ILS %s still unreachable: %s", ils, exc)
            answered = False
        if answered:
            mark_up(rt, ils)
            up[ils] = ids
        else:
            mark_down(rt, ils, "no answer to a ping")
    return up


def replay_answering(
    rt: Runtime,
    kind: str,
    waiting: Iterable[tuple[str, int]],
    ping: Callable[[str], bool],
    what: str,
) -> int:
    """Makes the outbox rows of ``kind`` (ref = row id) of rows waiting for an ILS that
    answers a ping now due at once, whatever backoff they reached; returns how many."""

    replayed = 0
    now = rt.clock()
    for ils, ids in answering(rt, waiting, ping).items():
        with unit_of_work(rt.sessions) as s:
            outbox.make_due(s, kind, [str(i) for i in ids], now=now)
        replayed += len(ids)
        log.info("ILS %s answers again: %d %s", ils, len(ids), what)
    return replayed
