"""The Flask application factory."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from pathlib import Path

from flask import Flask

from bridge.config import Settings
from bridge.runtime import Runtime
from bridge.services.assembly import assemble
from bridge.web import errors
from bridge.web.proxies import TrustedProxies

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent.parent

# Blueprints by module, each registered by its ``init_app`` or its ``bp``.
BLUEPRINTS = (
    "bridge.web.health",
    "bridge.web.api",
    "bridge.web.staff",
    "bridge.web.kiosk.views",
    "bridge.web.ncip",
    "bridge.web.metrics",
    "bridge.web.phone",
)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Flask:
    # Templates and static files live in bridge/templates and bridge/static.
    app = Flask(__name__, root_path=str(PACKAGE))

    runtime = assemble(runtime or Runtime.from_settings(settings))  # webhook events
    app.extensions["lockerbridge"] = runtime
    app.config.update(
        SECRET_KEY=settings.web.secret_key,
        SESSION_COOKIE_SECURE=settings.web.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web.session_absolute_hours),
        MAX_CONTENT_LENGTH=max(settings.security.ncip_max_bytes, 1024 * 1024),
    )
    for name in BLUEPRINTS:
        module = importlib.import_module(name)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
        else:
            app.register_blueprint(module.bp)
    errors.init_app(app)  # refused and missing pages in words (not a blueprint)

    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app,
        settings.web.trusted_proxies,
        (settings.security.ncip_client_verify_header, settings.security.ncip_client_dn_header),
    )
    return app
