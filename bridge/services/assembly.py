"""The top of the dependency graph: wires the controller events to the services that act on them.

``bridge.runtime`` (settings, database, Redis) and ``bridge.services.wiring`` (ILS adapters, door
drivers) are built at the bottom and know no service. Every process that may receive controller
events (web processes take the webhook, workers the MQTT listeners, the demo both) calls
:func:`assemble` once at start-up (``bridge.startup.prepare`` and ``bridge.web.app.create_app`` do),
which fills the runtime's event table (``bridge.services.events``):

- door opened, door closed, occupancy, fault: ``bridge.services.doors.events``;
- card read: ``bridge.services.access.readers`` (card and credential access).
"""

from __future__ import annotations

from typing import Any

from bridge.runtime import Runtime
from bridge.services import events
from bridge.services.access import readers
from bridge.services.doors import events as door_events
from lockers.drivers.base import CardRead


def assemble(rt: Runtime) -> Runtime:
    """Registers every event handler on ``rt`` (idempotent); returns ``rt``."""
    table = events.handlers(rt)
    for kind, handler in door_events.HANDLERS.items():
        table.setdefault(kind, handler)
    table.setdefault(CardRead, readers.card_read)
    return rt


def handle_event(rt: Runtime, event: Any) -> None:
    """Assembles ``rt`` if needed and applies ``event`` (for callers holding a bare runtime)."""
    events.apply(assemble(rt), event)
