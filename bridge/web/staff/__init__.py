"""The staff status page: sign-in, live compartment grids, health, work lists, audit log.

Server-rendered (Jinja2); ``static/js/poll.js`` refreshes the grid and health panel. Every
change is a POST with a CSRF token, behind a role check; see :mod:`bridge.web.security`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from bridge.web import security

bp = Blueprint("staff", __name__, url_prefix="/staff")
security.protect_blueprint(bp)


def init_app(app: Flask) -> None:
    from bridge.web.staff import (  # noqa: F401  (routes register on import)
        accounts,
        auth,
        demo_messages,
        emptying,
        filters,
        kiosks,
        loading,
        reports,
        search,
        views,
    )

    security.init_app(app)
    filters.install(app)
    app.register_blueprint(bp)
