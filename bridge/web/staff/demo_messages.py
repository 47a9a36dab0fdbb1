"""The demo-only "Messages sent" page: what the demo's mail catcher received, each patron
message with its code and QR, so a newcomer can follow scan -> message -> pickup. Exists only
while ``demo_mailbox`` is set (``lockerbridge demo`` sets it); a 404 otherwise."""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, render_template
from flask.typing import ResponseReturnValue

from bridge.infra import demo_mail
from bridge.services.staff.accounts import Role
from bridge.web import security
from bridge.web.staff.pages import bp


def _folder() -> Path:
    folder = security.runtime().settings.demo_mailbox
    if folder is None:
        abort(404)
    return folder


@bp.app_template_global()
def demo_messages_on() -> bool:
    return security.runtime().settings.demo_mailbox is not None


@bp.get("/demo/messages")
@security.require_role(Role.VIEWER)
def demo_messages() -> ResponseReturnValue:
    return render_template("staff/demo_messages.html", messages=demo_mail.messages(_folder()))


@bp.get("/demo/messages/<name>/qr.png")
@security.require_role(Role.VIEWER)
def demo_message_qr(name: str) -> ResponseReturnValue:
    png = demo_mail.qr_png(_folder(), name)
    if png is None:
        abort(404)
    return Response(png, mimetype="image/png")
