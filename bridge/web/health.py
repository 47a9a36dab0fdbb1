"""Liveness and readiness for load balancers and orchestrators: ``/healthz`` and ``/readyz``.

``/readyz`` answers 200 when every check of :func:`bridge.services.health.readiness` is "ok",
else 503, with each check's answer and the warnings beside them. :func:`init_app` adds the
configuration's probes (one per ILS, one per bank: :func:`bridge.services.health.readiness_probes`)
to ``app.extensions["readiness_probes"]``, where other probes may be added too.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from bridge.runtime import Runtime
from bridge.services.health import Probe, readiness, readiness_probes

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = current_app.extensions["lockerbridge"]
    found = readiness(rt, current_app.extensions.get("readiness_probes", {}))
    status = "ready" if found.ready else "not ready"
    body = jsonify(status=status, checks=found.checks, warnings=found.warnings)
    return body, (200 if found.ready else 503)


def init_app(app: Flask) -> None:
    """Registers the routes, and the ILS and controller probes of the app's configuration."""
    app.register_blueprint(bp)
    rt: Runtime = app.extensions["lockerbridge"]
    probes: dict[str, Probe] = app.extensions.setdefault("readiness_probes", {})
    probes.update(readiness_probes(rt))
