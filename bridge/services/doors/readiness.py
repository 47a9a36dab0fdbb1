"""Items loaded behind a door are ready: the patron's access code and the message saying so.

:func:`issue_and_notify` runs in the door-close transaction (``bridge.services.doors.events``);
:func:`ready_facts` is what a "ready for pickup" message says, the first one and a re-issued
one (``bridge.services.access.reissue``) alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bridge.config import BankSettings
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime
from bridge.services.access.links import issue_link
from bridge.services.banks import BankState, SqlGrantStore, access_codes, audit
from bridge.storage.tables.lockers import LoadRow
from lockers.access import IssuedAccess
from lockers.states import CompartmentState

_S = CompartmentState


def ready_facts(
    bank: BankSettings,
    loads: Sequence[LoadRow],
    doors: Sequence[int],
    issued: IssuedAccess,
    expires: datetime,
) -> dict[str, Any]:
    """What a "ready for pickup" message says: the first one and a re-issued one alike."""
    return {
        "titles": [ld.title or ld.item_barcode for ld in loads],
        "items": len(loads),
        "doors": list(doors) if bank.show_door_number else [],
        "code": issued.typed_code,
        "qr_token": issued.qr_token,
        "expires": expires,
        "bank_name": bank.name,
        "address": bank.address,
        "hours": bank.hours,
    }


def issue_and_notify(
    rt: Runtime, s: Session, state: BankState, number: int, loads: list[LoadRow], at: datetime
) -> str | None:
    """Typed code + QR for the patron's newly loaded items, and the ready-for-pickup message.

    When the items were moved here because the door they were meant for went out of service
    and the patron already holds a code naming that door, that code is revoked and the new
    one (and the message) covers everything of theirs waiting behind working doors."""
    holds = [ld for ld in loads if ld.kind == "hold" and ld.patron]
    if not holds:
        return None

    bank_id = state.bank.bank_id
    bank = rt.settings.bank(bank_id)
    patron_ref = holds[0].patron_ref
    card = holds[0].patron or ""
    codes = access_codes(rt, s)
    broken = {n for n, r in state.rows.items() if r.state == _S.OUT_OF_SERVICE.value}
    stale = [
        g
        for g in SqlGrantStore(s).of_patron(bank_id, patron_ref, at)
        if broken.intersection(g.compartments)
    ]
    doors: tuple[int, ...] = (number,)
    if stale:
        for grant in stale:
            codes.revoke(grant, at)
            audit(
                s,
                "access_revoked",
                at=at,
                bank_id=bank_id,
                compartment=number,
                actor="system",
                subject=patron_ref,
                grant=grant.grant_id,
                reason="door out of service; items moved",
                doors=sorted(broken.intersection(grant.compartments)),
            )
        holds += [
            ld
            for ld in state.loads
            if ld.patron_ref == patron_ref
            and ld.kind == "hold"
            and ld.state == "loaded"
            and ld.compartment not in broken
            and ld.compartment != number
        ]
        doors = tuple(sorted({ld.compartment for ld in holds}))
    expires = min(ld.expires_at or at + timedelta(days=bank.hold_shelf_days) for ld in holds)
    issued = codes.issue(
        bank_id=bank_id,
        patron_ref=patron_ref,
        compartments=doors,
        now=at,
        expires_at=expires,
        card_number=card,
    )
    audit(
        s,
        "access_issued",
        at=at,
        bank_id=bank_id,
        compartment=number,
        actor="system",
        subject=patron_ref,
        grant=issued.grant.grant_id,
        expires=expires.isoformat(),
    )
    phone_url = issue_link(
        rt,
        s,
        bank_id=bank_id,
        patron_ref=patron_ref,
        expires_at=expires,
        now=at,
        grant_id=issued.grant.grant_id,
    )
    facts = ready_facts(bank, holds, doors, issued, expires)
    facts["phone_url"] = phone_url  # secret like the code; None without access.public_url
    if stale:
        facts["moved"] = True  # templates may say "your items are now behind another door"
    return queue_message(
        s,
        MessageKind.READY_FOR_PICKUP,
        bank_id=bank_id,
        patron=card,
        event_key=f"ready:{issued.grant.grant_id}",
        facts=facts,
        now=at,
    )
