"""WSGI entry point for gunicorn: ``gunicorn bridge.wsgi:app``.

Configuration comes from ``$LOCKERBRIDGE_CONFIG`` and the environment. The app refuses to start
on a database whose schema is behind the code (run ``lockerbridge db upgrade`` first).
"""

from __future__ import annotations

from bridge.app import create_app
from bridge.config import load_settings
from bridge.logs import setup_logging
from bridge.storage.db import check_connection
from bridge.storage.migrate import pending

_settings = load_settings()
setup_logging(_settings.log_level, _settings.log_format)
app = create_app(_settings)
check_connection(app.extensions["lockerbridge"].engine)
if pending(app.extensions["lockerbridge"].engine):
    raise SystemExit("the database schema is not up to date: run `lockerbridge db upgrade`")
