"""Refused and not-found pages people can read, in the staff pages' style.

Machine callers (the JSON API, NCIP, metrics) keep their plain answers: a request under those
paths, or one that prefers JSON, gets the default response of the error.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

MACHINE_PATHS = ("/api/", "/ncip", "/metrics", "/healthz", "/readyz")

WORDS = {
    403: (
        "Not allowed",
        "Your account may not open this page. Ask an administrator if you need it.",
    ),
    404: (
        "Page not found",
        "There is no such page here. It may have moved, or the link may be mistyped.",
    ),
}


def _page(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.path.startswith(MACHINE_PATHS) or wants_json:
        return exc
    title, text = WORDS[code]
    return render_template("error.html", code=code, title=title, text=text), code


def init_app(app: Flask) -> None:
    app.register_error_handler(403, _page)
    app.register_error_handler(404, _page)
