"""The rq job that sends one notification (outbox kind "notification")."""

from __future__ import annotations


def send_notification(kind: str, ref: str) -> str:
    """Sends notification ``ref``; see :func:`bridge.notify.delivery.run`."""
    from bridge.notify.delivery import run
    from bridge.runtime import current

    return run(current(), kind, ref)
