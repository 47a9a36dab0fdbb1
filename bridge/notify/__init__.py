"""Patron notifications: ready for pickup, reminders, receipts, by email and SMS.

Flows call :func:`queue_message` inside their transaction and dispatch the returned ref after
the commit; the rq job ``bridge.jobs.notify.send_notification`` does the sending.
"""

from __future__ import annotations

from bridge.notify.kinds import Channel, MessageKind
from bridge.notify.queue import OUTBOX_KIND, queue_message

__all__ = ["OUTBOX_KIND", "Channel", "MessageKind", "queue_message"]
