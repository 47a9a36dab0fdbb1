"""Serving the web app: the development server here, gunicorn in production (see docs)."""

from __future__ import annotations

import errno
import logging
import socket

from werkzeug.serving import run_simple

from bridge.config import Settings
from bridge.errors import Fatal
from bridge.storage.db import check_connection
from bridge.storage.migrate import pending
from bridge.web.app import create_app

log = logging.getLogger(__name__)


class PortInUse(Exception):
    pass


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Fatal(f"port {port} on {host} is already in use") from exc
            raise


def serve_web(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    host = host or settings.web.host
    port = port if port is not None else settings.web.port
    check_port_free(host, port)
    app = create_app(settings)
    runtime = app.extensions["lockerbridge"]
    check_connection(runtime.engine)
    if pending(runtime.engine):
        raise Fatal("the database schema is not up to date: run `lockerbridge db upgrade`")

    log.info("web app on http://%s:%d/", host, port)
    run_simple(host, port, app, threaded=True, use_reloader=False)
    return 0
