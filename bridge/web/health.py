"""Liveness and readiness for load balancers and orchestrators: ``/healthz`` and ``/readyz``.

``/readyz`` checks the database and Redis, and :func:`init_app` adds one probe per ILS
(``ils:<name>``) and one per bank (``controller:<bank id>``) to
``app.extensions["readiness_probes"]``. A probe answers ``"ok"`` or ``"down: <why>"``.

- ILS: "ok" when the catalogue answered login + status (its status flags, such as check-in
  not allowed, are listed under ``warnings`` beside the checks, never as "down"), else
  "down: <why>". The result the periodic probe (``bridge.services.health.probe_ils``) stored
  in Redis in the last 90 seconds. When there is none (the scheduler has not run yet) this
  process pings the ILS itself (SIP2 99 through the bank's adapter) and waits at most
  ``ILS_PING_BUDGET_SECONDS``: a catalogue that hangs must not hang the load balancer's check.
  The ping's result is stored like the scheduler's, so the next calls answer from Redis.
- Controller: ``BankRow.controller_online`` as the doors and the drivers last reported it. All
  banks are read with one query, cached for ``CONTROLLER_CACHE_SECONDS``, so dozens of banks
  cost one query per check.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import select, text

from bridge.runtime import Runtime
from bridge.services.health import ILS_HEALTH_KEY, probe_one
from bridge.storage.tables.core import BankRow

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = current_app.extensions["lockerbridge"]
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
    for name, probe in current_app.extensions.get("readiness_probes", {}).items():
        try:
            checks[name] = probe()
            # Beside "ok": e.g. an ILS whose status reply says check-in is not allowed.
            noted = getattr(probe, "warnings", None)
            if noted is not None and (found := noted()):
                warnings[name] = found
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body = jsonify(status="ready" if ready else "not ready", checks=checks, warnings=warnings)
    return body, (200 if ready else 503)


ILS_PING_BUDGET_SECONDS = 2.0
CONTROLLER_CACHE_SECONDS = 1.0

Probe = Callable[[], str]


def init_app(app: Flask) -> None:
    """Registers the routes, and the ILS and controller probes of the app's configuration."""
    app.register_blueprint(bp)
    rt: Runtime = app.extensions["lockerbridge"]
    probes: dict[str, Probe] = app.extensions.setdefault("readiness_probes", {})
    used = {b.ils for b in rt.settings.banks}
    for ils in rt.settings.ils:
        if ils.name in used:
            probes[f"ils:{ils.name}"] = IlsProbe(rt, ils.name)
    controllers = ControllerStates(rt)
    for bank in rt.settings.banks:
        probes[f"controller:{bank.id}"] = controllers.probe(bank.id)


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
