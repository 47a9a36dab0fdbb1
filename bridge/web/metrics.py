"""Prometheus metrics at ``/metrics`` (keep it on an internal network or behind auth)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.infra.metrics import registry_for

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    ext = current_app.extensions
    if "metrics_registry" not in ext:
        ext["metrics_registry"] = registry_for(ext["lockerbridge"])
    return Response(generate_latest(ext["metrics_registry"]), mimetype=CONTENT_TYPE_LATEST)
