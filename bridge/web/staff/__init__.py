"""The staff status page: sign-in, live compartment grids, health, work lists, audit log.

Server-rendered (Jinja2); ``static/js/poll.js`` refreshes the grid and health panel. Every
change is a POST with a CSRF token, behind a role check; see :mod:`bridge.web.security`.
"""

from __future__ import annotations

from flask import Flask

from bridge.web import security
from bridge.web.staff import (  # noqa: F401  (routes register on import)
    accounts,
    auth,
    demo_messages,
    emptying,
    kiosks,
    loading,
    reports,
    search,
    views,
)
from bridge.web.staff.filters import duration, iso, state_label, when
from bridge.web.staff.gridcells import cells_html
from bridge.web.staff.pages import bp
from bridge.web.staff.return_words import explain_entry


def init_app(app: Flask) -> None:
    security.init_app(app)
    app.jinja_env.filters.update(
        duration=duration,
        when=when,
        iso=iso,
        state_label=state_label,
        explain_deposit=explain_entry,
    )
    app.jinja_env.globals["grid_cells"] = cells_html
    app.register_blueprint(bp)
