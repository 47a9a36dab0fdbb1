"""The rq job that sends one notification (outbox kind "notification")."""

from __future__ import annotations

from bridge.notify.delivery import run
from bridge.runtime import current


def send_notification(kind: str, ref: str) -> str:
    """Sends notification ``ref``; see :func:`bridge.notify.delivery.run`."""

    return run(current(), kind, ref)
