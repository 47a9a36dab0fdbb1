"""``POST /ncip``: the NCIP responder ILL systems call (docs/ill.md).

A machine endpoint: no session, no CSRF token (the blueprint is exempt), authenticated per
request by a shared secret (``X-NCIP-Secret``) or a client certificate the TLS proxy verified.
Everything past authentication is answered with HTTP 200 and an NCIP message, because NCIP
reports errors as Problem elements; an unauthenticated caller gets 401 (with a Problem body
for NCIP clients that read it) and an audit event. A body its sender declares to be something
other than XML (``Content-Type: application/json``, form data, text) gets 415 and a Problem:
it is not an NCIP message by its own account. No Content-Type at all is read as XML.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.runtime import Runtime
from bridge.services.access.rejections import rejection_to_audit
from bridge.services.ill import callers, responder
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.web.security import csrf
from ils_adapters.ncip import NcipProblem, handle
from ils_adapters.ncip.responses import build_problem_response

bp = Blueprint("ncip", __name__)

XML = "application/xml; charset=utf-8"


def init_app(app: Flask) -> None:
    # Flask-WTF checks every POST when WTF_CSRF_CHECK_DEFAULT is on; an NCIP peer has no token.
    csrf.exempt(bp)
    app.register_blueprint(bp)


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["lockerbridge"]
    return rt


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML)


def _problem(kind: str, detail: str, status: int = 200) -> Response:
    return _xml(build_problem_response(None, (NcipProblem(kind, detail),)), status)


@bp.post("/ncip")
def ncip() -> Response:
    rt = _runtime()
    caller = callers.authenticate(rt.settings, request.headers)
    if caller is None:
        _refused(rt)
        response = _problem(
            "Agency Authentication Failed", "send X-NCIP-Secret or a client certificate", 401
        )
        response.headers["WWW-Authenticate"] = 'X-NCIP-Secret realm="lockerbridge"'
        return response
    if not _declared_xml(request.mimetype):
        return _problem(
            "Invalid Message Syntax Error",
            f"Content-Type {request.mimetype} is not XML; send application/xml or text/xml",
            415,
        )
    limit = rt.settings.security.ncip_max_bytes
    body = _body(limit)
    if body is None:
        return _problem("Invalid Message Syntax Error", f"message over the {limit}-byte limit")
    return _xml(handle(body, responder.IllHandler(rt, caller), max_bytes=limit))


def _declared_xml(mimetype: str) -> bool:
    """``application/xml``, ``text/xml``, any ``+xml`` type, or none given."""
    return mimetype in ("", "application/xml", "text/xml") or mimetype.endswith("+xml")


def _body(limit: int) -> bytes | None:
    """The request body, or None when it is over ``limit`` (read no further than that)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            chunk = request.stream.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        return None
    return None if size > limit else b"".join(chunks)


def _refused(rt: Runtime) -> None:
    """Audits a refused caller: where from and what it presented (never the secret itself)."""

    earlier = rejection_to_audit(rt, "ncip", request.remote_addr or "unknown")
    if earlier is None:
        return  # one row per caller address and minute: the log cannot be flooded
    presented = []
    if request.headers.get(callers.SECRET_HEADER):
        presented.append("secret")
    if request.headers.get(rt.settings.security.ncip_client_dn_header):
        presented.append("certificate")
    with unit_of_work(rt.sessions) as s:
        s.add(
            AuditEventRow(
                at=rt.clock(),
                kind="ncip_refused",
                actor=f"ncip:{request.remote_addr or 'unknown'}"[:120],
                detail={
                    "presented": presented or ["nothing"],
                    **({"previous_minute": earlier} if earlier else {}),
                },
            )
        )
