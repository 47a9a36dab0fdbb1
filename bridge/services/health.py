"""The periodic ILS probe behind the status page's health panel.

Each ILS is pinged (SIP2 93 login and 99 SC status through its adapter) with the SIP login of
the first bank that uses it; the result and the round-trip time are kept in Redis for two probe
intervals, so a probe that stops running shows up as "unknown" rather than a stale "up".

"Up" means the catalogue answered: the flags of its status reply (check-in or checkout not
allowed, offline) are kept beside it as warnings, because real servers send them for policy
reasons while circulating. "Down" carries why: no answer, a refused login, or unreadable
replies.

Each probe also sets or clears the ILS's "down" mark (:mod:`bridge.infra.ils_circuit`), and the
health panel counts offline loans still waiting for their ILS
(:func:`bridge.services.offline_loans.waiting_count`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

from bridge.infra import ils_circuit
from bridge.runtime import Runtime, current
from bridge.services.wiring import adapter_for
from ils_adapters.base import IlsHealth

log = logging.getLogger(__name__)

ILS_HEALTH_KEY = "lockerbridge:health:ils:{name}"
KEEP_SECONDS = 90


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    at: str  # ISO time of the probe
    error: str | None = None
    warnings: tuple[str, ...] = ()


def probe_one(rt: Runtime, ils_name: str) -> ProbeResult:
    """Pings one ILS and stores the result; never raises for an ILS that is down."""

    bank = next(b for b in rt.settings.banks if b.ils == ils_name)
    start = time.perf_counter()
    error = None
    warnings: tuple[str, ...] = ()
    try:
        adapter = adapter_for(rt, bank.id)
        check = getattr(adapter, "health", None)
        if check is not None:
            health: IlsHealth = check()
            ok, error, warnings = health.up, health.problem, health.warnings
        else:
            ok = bool(adapter.ping())
            error = None if ok else "the ILS does not answer"
    except Exception as exc:  # every failure of the ILS or the network reads as "down"
        ok = False
        error = f"{type(exc).__name__}: {exc}"
    result = ProbeResult(
        ok=ok,
        latency_ms=round((time.perf_counter() - start) * 1000, 2),
        at=rt.clock().isoformat(),
        error=error,
        warnings=warnings,
    )
    rt.redis.set(ILS_HEALTH_KEY.format(name=ils_name), json.dumps(asdict(result)), ex=KEEP_SECONDS)
    # The same answer tells patrons' requests whether to wait for this ILS at all.
    if ok:
        ils_circuit.mark_up(rt, ils_name)
    else:
        ils_circuit.mark_down(rt, ils_name, error or "no answer")
    return result


def probe_ils(rt: Runtime | None = None) -> dict[str, ProbeResult]:
    """The periodic job (``bridge.jobs.periodic``): probes every ILS that serves a bank."""
    rt = rt or current()
    used = {b.ils for b in rt.settings.banks}
    return {i.name: probe_one(rt, i.name) for i in rt.settings.ils if i.name in used}
