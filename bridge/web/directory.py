"""Staff sign-in against a directory (LDAP, OpenID Connect)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    return None
