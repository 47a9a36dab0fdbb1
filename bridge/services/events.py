"""Controller events to their handlers: one table per process, filled at start-up.

Drivers (``bridge.services.wiring``) and the controller webhook/MQTT listener
(``bridge.services.controllers``) hand every event to :func:`apply`; which function handles which
event type is registered by ``bridge.services.assembly`` when the process starts. So the modules
that receive events know nothing of the services that act on them, and the services import the
drivers' builder, never the other way round.

A handler applies its event in one transaction (state change, loads, deposits, grants, audit
and outbox rows together) and talks to hardware and other services only after that commit,
through the outbox. A handler must also be idempotent: controllers resend an event whose answer
they did not see, and the second copy must change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bridge.infra.metrics import DOOR_EVENTS
from bridge.runtime import Runtime

log = logging.getLogger(__name__)

Handler = Callable[[Runtime, Any], object]
_TABLE = "event-handlers"


def handlers(rt: Runtime) -> dict[type, Handler]:
    """The runtime's table of handlers by event type (empty until ``bridge.services.assembly``)."""
    table: dict[type, Handler] = rt.cached(_TABLE, dict)
    return table


def register(rt: Runtime, kind: type, handler: Handler) -> None:
    handlers(rt)[kind] = handler


def apply(rt: Runtime, event: Any) -> None:
    """Applies one driver event. Unknown banks/compartments are logged and dropped."""
    kind = type(event)
    DOOR_EVENTS.labels(bank=event.bank_id, event=kind.__name__).inc()
    handler = handlers(rt).get(kind)
    if handler is None:
        # A process that receives events and was not assembled: a wiring mistake, said loudly.
        log.error("no handler registered for %s events (bridge.services.assembly)", kind.__name__)
        return
    try:
        handler(rt, event)
    except KeyError:
        log.warning("event for an unknown bank or compartment dropped: %s", kind.__name__)
