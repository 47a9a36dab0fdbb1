"""WSGI entry point for gunicorn: ``gunicorn bridge.entrypoints.wsgi:app``.

Configuration comes from ``$LOCKERBRIDGE_CONFIG`` and the environment. A process that cannot
work (missing secret, database unreachable, schema behind the code, Redis down) prints one line
and exits with gunicorn's "app failed to load" status, which stops the whole server instead of
forking the worker again; ``bridge.entrypoints.gunicorn_conf`` runs the same checks in the master
first, so with it no worker is forked at all.
"""

from __future__ import annotations

from flask import Flask

from bridge.config import load_settings
from bridge.infra.logs import setup_logging
from bridge.startup import GUNICORN_APP_LOAD_ERROR, exit_with, prepare, start_failure
from bridge.web.app import create_app


def _load() -> Flask:
    try:
        settings = load_settings()
        setup_logging(settings.log_level, settings.log_format)
        app = create_app(settings)
        prepare(app.extensions["lockerbridge"], "web")
    except Exception as exc:
        line = start_failure(exc)
        if line is None:
            raise
        exit_with(line, GUNICORN_APP_LOAD_ERROR)
    return app


app = _load()
