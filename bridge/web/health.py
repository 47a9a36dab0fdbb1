"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

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
