"""The staff pages' blueprint, behind the staff sign-in (:mod:`bridge.web.security`); every
module of :mod:`bridge.web.staff` registers its routes on it."""

from __future__ import annotations

from flask import Blueprint

from bridge.web import security

bp = Blueprint("staff", __name__, url_prefix="/staff")
security.protect_blueprint(bp)
