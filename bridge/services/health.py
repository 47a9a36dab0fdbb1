"""Probing: the periodic ILS probe behind the status page's health panel, and the readiness
checks behind ``/readyz`` (``bridge.web.health``).

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

Readiness (:func:`readiness`) checks the database and Redis, and the probes of
:func:`readiness_probes`: one per ILS (``ils:<name>``) and one per bank
(``controller:<bank id>``). A probe answers ``"ok"`` or ``"down: <why>"``.

- ILS: "ok" when the catalogue answered login + status (its status flags, such as check-in
  not allowed, are listed under ``warnings`` beside the checks, never as "down"), else
  "down: <why>". The result the periodic probe (:func:`probe_ils`) stored in Redis in the last
  90 seconds. When there is none (the scheduler has not run yet) this process pings the ILS
  itself (SIP2 99 through the bank's adapter) and waits at most ``ILS_PING_BUDGET_SECONDS``: a
  catalogue that hangs must not hang the load balancer's check. The ping's result is stored
  like the scheduler's, so the next calls answer from Redis.
- Controller: ``BankRow.controller_online`` as the doors and the drivers last reported it. All
  banks are read with one query, cached for ``CONTROLLER_CACHE_SECONDS``, so dozens of banks
  cost one query per check.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, text

from bridge.infra import ils_circuit
from bridge.runtime import Runtime, current
from bridge.services.wiring import adapter_for
from bridge.storage.tables.core import BankRow
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


# --- readiness ---------------------------------------------------------------------------

ILS_PING_BUDGET_SECONDS = 2.0
CONTROLLER_CACHE_SECONDS = 1.0

Probe = Callable[[], str]


class IlsProbe:
    """``ok`` when the ILS answered its last SIP2 ping (see the module docstring)."""

    def __init__(self, rt: Runtime, ils_name: str, budget: float = ILS_PING_BUDGET_SECONDS) -> None:
        self.rt = rt
        self.ils_name = ils_name
        self.budget = budget
        self._running: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        stored = self._stored()
        if stored is not None:
            return stored
        return self._ping_now()

    def warnings(self) -> list[str]:
        """What the ILS's last status reply said beside "up" (read after the check)."""
        result = self._result()
        return list(result.get("warnings") or ()) if result else []

    def _result(self) -> dict[str, Any] | None:
        raw = self.rt.redis.get(ILS_HEALTH_KEY.format(name=self.ils_name))
        if raw is None:
            return None
        result: dict[str, Any] = json.loads(raw)
        return result

    def _stored(self) -> str | None:
        result = self._result()
        if result is None:
            return None
        if result.get("ok"):
            return "ok"
        return f"down: {result.get('error') or 'the ILS does not answer'}"

    def _ping_now(self) -> str:
        with self._lock:
            # One ping at a time per process: concurrent checks wait for the same answer.
            if self._running is None or not self._running.is_alive():
                self._running = threading.Thread(
                    target=probe_one,
                    args=(self.rt, self.ils_name),
                    name=f"readiness-ils-{self.ils_name}",
                    daemon=True,
                )
                self._running.start()
            running = self._running
        running.join(self.budget)
        if running.is_alive():
            return f"down: no answer within {self.budget:g} s"
        return self._stored() or "down: the probe stored no result (Redis?)"


class ControllerStates:
    """The ``controller_online`` flag of every bank, read at most once per second."""

    def __init__(self, rt: Runtime, ttl: float = CONTROLLER_CACHE_SECONDS) -> None:
        self.rt = rt
        self.ttl = ttl
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._states: dict[str, bool] = {}

    def probe(self, bank_id: str) -> Probe:
        def check() -> str:
            states = self._current()
            if bank_id not in states:
                return "down: the bank is not in the database yet (a web or worker start adds it)"
            return "ok" if states[bank_id] else "down: the controller is offline"

        return check

    def _current(self) -> dict[str, bool]:
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl:
                with self.rt.sessions() as s:
                    rows = s.execute(select(BankRow.id, BankRow.controller_online)).all()
                self._states = {bank_id: bool(online) for bank_id, online in rows}
                self._read_at = time.monotonic()
            return dict(self._states)


def readiness_probes(rt: Runtime) -> dict[str, Probe]:
    """One probe per ILS that serves a bank (``ils:<name>``) and one per bank
    (``controller:<bank id>``), for ``rt``'s configuration."""
    probes: dict[str, Probe] = {}
    used = {b.ils for b in rt.settings.banks}
    for ils in rt.settings.ils:
        if ils.name in used:
            probes[f"ils:{ils.name}"] = IlsProbe(rt, ils.name)
    controllers = ControllerStates(rt)
    for bank in rt.settings.banks:
        probes[f"controller:{bank.id}"] = controllers.probe(bank.id)
    return probes


@dataclass(frozen=True)
class Readiness:
    """Each check's answer (``"ok"`` or ``"down: <why>"``), and what some said beside "ok"."""

    checks: dict[str, str]
    warnings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


def readiness(rt: Runtime, probes: Mapping[str, Probe]) -> Readiness:
    """The database, Redis, then every probe; a probe that raises reads as down."""
    checks: dict[str, str] = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    warnings: dict[str, list[str]] = {}
    for name, probe in probes.items():
        try:
            checks[name] = probe()
            # Beside "ok": e.g. an ILS whose status reply says check-in is not allowed.
            noted = getattr(probe, "warnings", None)
            if noted is not None and (found := noted()):
                warnings[name] = found
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
    return Readiness(checks, warnings)
