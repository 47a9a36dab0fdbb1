"""The periodic ILS probe behind the status page's health panel.

Each ILS is pinged (SIP2 99 SC status through its adapter) with the SIP login of the first bank
that uses it; the result and the round-trip time are kept in Redis for two probe intervals, so
a probe that stops running shows up as "unknown" rather than a stale "up".
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

from bridge.runtime import Runtime, current

log = logging.getLogger(__name__)

ILS_HEALTH_KEY = "lockerbridge:health:ils:{name}"
KEEP_SECONDS = 90


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    at: str  # ISO time of the probe
    error: str | None = None


def probe_one(rt: Runtime, ils_name: str) -> ProbeResult:
    """Pings one ILS and stores the result; never raises for an ILS that is down."""
    from bridge.wiring import adapter_for

    bank = next(b for b in rt.settings.banks if b.ils == ils_name)
    start = time.perf_counter()
    error = None
    try:
        ok = bool(adapter_for(rt, bank.id).ping())
    except Exception as exc:  # every failure of the ILS or the network reads as "down"
        ok = False
        error = type(exc).__name__
    result = ProbeResult(
        ok=ok,
        latency_ms=round((time.perf_counter() - start) * 1000, 2),
        at=rt.clock().isoformat(),
        error=error,
    )
    rt.redis.set(ILS_HEALTH_KEY.format(name=ils_name), json.dumps(asdict(result)), ex=KEEP_SECONDS)
    return result


def probe_ils(rt: Runtime | None = None) -> dict[str, ProbeResult]:
    """The periodic job (``bridge.periodic``): probes every ILS that serves a bank."""
    rt = rt or current()
    used = {b.ils for b in rt.settings.banks}
    return {i.name: probe_one(rt, i.name) for i in rt.settings.ils if i.name in used}
