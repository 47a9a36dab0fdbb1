"""Whether a door opened for a pickup may be opened again.

The door-opened event (``bridge.services.doors.events``) audits ``pickup_door_opened`` when a
``picked_up`` door really opens; a handover or loan whose door has opened once never opens it
again (``bridge.services.pickup``, ``bridge.services.equipment``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.storage.tables.core import AuditEventRow

PICKUP_DOOR_OPENED = "pickup_door_opened"


def opened_for_pickup_since(s: Session, bank_id: str, number: int, since: datetime) -> bool:
    """Whether the controller reported door ``number`` opened on a ``picked_up`` door since
    ``since`` (audit ``pickup_door_opened``): a handover or loan whose door has opened once
    never opens it again."""
    return (
        s.scalar(
            select(AuditEventRow.id).where(
                AuditEventRow.kind == PICKUP_DOOR_OPENED,
                AuditEventRow.bank_id == bank_id,
                AuditEventRow.compartment == number,
                AuditEventRow.at >= since,
            )
        )
        is not None
    )
