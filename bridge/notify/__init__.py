"""Patron notifications: ready for pickup, reminders, receipts, by email and SMS.

Flows call :func:`queue_message` inside their transaction and, after the commit,
``bridge.infra.outbox.dispatch(rt, OUTBOX_KIND, ref)`` (or :func:`dispatch`); the rq job
``bridge.jobs.notify.send_notification`` does the sending (:mod:`bridge.notify.delivery`).
"""

from __future__ import annotations

from bridge.infra import outbox
from bridge.notify.kinds import Channel, MessageKind
from bridge.notify.optout import clear_opt_out, opted_out, set_opt_out
from bridge.notify.queue import OUTBOX_KIND, queue_message
from bridge.notify.staff import FailedMessage, dismiss, failed_messages
from bridge.runtime import Runtime


def dispatch(rt: Runtime, ref: str | None) -> None:
    """Hands a queued message to the workers after the commit; None (a duplicate) is a no-op."""
    if ref is not None:
        outbox.dispatch(rt, OUTBOX_KIND, ref)


__all__ = [
    "OUTBOX_KIND",
    "Channel",
    "FailedMessage",
    "MessageKind",
    "clear_opt_out",
    "dismiss",
    "dispatch",
    "failed_messages",
    "opted_out",
    "queue_message",
    "set_opt_out",
]
