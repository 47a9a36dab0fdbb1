"""How the reference ACS imitates each ILS: how catalogues differ (docs/sip2-notes.md) as data."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class HoldQueueCount(enum.Enum):
    """What 18 item information puts in CF (hold queue length)."""

    RECORD = "record"  # Koha: holds on the whole bibliographic record
    CAPTURED = "captured"  # Evergreen: 1 if a captured hold exists, else 0
    NONE = "none"  # FOLIO: field not sent


@dataclass(frozen=True)
class Behaviour:
    name: str
    # Koha: a checkin of an item that is not checked out answers ok=0 "not checked out"
    # (unless the account has checked_in_ok); Evergreen and FOLIO answer ok=1.
    repeat_checkin_ok: bool
    # Koha and Evergreen send the hold patron's barcode (CY) and name (DA) on capture.
    hold_patron_fields: bool
    hold_queue_count: HoldQueueCount


KOHA = Behaviour(
    "koha", repeat_checkin_ok=False, hold_patron_fields=True, hold_queue_count=HoldQueueCount.RECORD
)
EVERGREEN = Behaviour(
    "evergreen",
    repeat_checkin_ok=True,
    hold_patron_fields=True,
    hold_queue_count=HoldQueueCount.CAPTURED,
)
FOLIO = Behaviour(
    "folio", repeat_checkin_ok=True, hold_patron_fields=False, hold_queue_count=HoldQueueCount.NONE
)

BEHAVIOURS: dict[str, Behaviour] = {b.name: b for b in (KOHA, EVERGREEN, FOLIO)}


def behaviour_named(name: str | Behaviour) -> Behaviour:
    """Raises ValueError for a name that is not koha, evergreen or folio."""
    if isinstance(name, Behaviour):
        return name
    try:
        return BEHAVIOURS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown behaviour {name!r}: use one of {sorted(BEHAVIOURS)}") from None
