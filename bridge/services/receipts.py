"""A receipt the patron asks for at the kiosk ("Send me a receipt") after a pickup or an
equipment loan.

The kiosk keeps nothing about a patron between requests, so the result screen carries the
receipt itself: an *offer* sealed with the configuration's code keys
(:mod:`bridge.storage.sealed`, AES-GCM), holding the card, the bank, what was lent and each
due date as the ILS sent it. The page shows only ciphertext; nobody can forge or alter an
offer, and it lapses after :data:`OFFER_SECONDS`. Sending it queues a ``picked_up`` message
(the same receipt the library may send after every pickup) under a key of its own, so tapping
twice, or a second request with the same offer, sends one message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bridge.infra import outbox
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.sealed import SealedKeyMissing, seal, unseal

# A result screen goes back to the start after the kiosk time-out; an offer outlives it a little
# (a slow tap) but not a page kept in a browser's history.
OFFER_SECONDS = 600


class ReceiptOutcome(StrEnum):
    QUEUED = "queued"  # on its way by e-mail and/or SMS
    LAPSED = "lapsed"  # too old, another bank's, or not an offer at all


@dataclass(frozen=True)
class LentItem:
    title: str
    due: datetime | None  # as the ILS's checkout reply sent it
    offline: bool = False  # lent while the ILS was down: the due date follows by message


def can_send(rt: Runtime) -> bool:
    """Whether this installation sends patron messages at all (e-mail or SMS)."""
    n = rt.settings.notifications
    return n.email.enabled or n.sms.enabled


def offer(
    rt: Runtime, bank_id: str, patron: str, lent: Sequence[LentItem], what: str
) -> str | None:
    """The sealed offer for a result screen, or None when no receipt can be sent (nothing
    lent, or no message channel configured). ``what`` names the loan (``pickup`` or
    ``equipment``) in the message key."""
    if not lent or not patron or not can_send(rt):
        return None
    now = rt.clock()
    body = {
        "bank": bank_id,
        "patron": patron,
        "what": what,
        "at": now.isoformat(),
        "loans": [{"title": i.title, "due": i.due.isoformat() if i.due else None} for i in lent],
        "due_follows": any(i.offline for i in lent),
    }
    return seal(json.dumps(body, separators=(",", ":")).encode())


def send(rt: Runtime, bank_id: str, sealed_offer: str) -> ReceiptOutcome:
    """Queues the receipt an offer holds for the patron's message channel."""

    try:
        body = json.loads(unseal(sealed_offer))
        at = datetime.fromisoformat(body["at"])
    except (SealedKeyMissing, ValueError, KeyError, TypeError):
        return ReceiptOutcome.LAPSED
    now = rt.clock()
    if body.get("bank") != bank_id or not (now - timedelta(seconds=OFFER_SECONDS) <= at <= now):
        return ReceiptOutcome.LAPSED
    loans = list(body["loans"])
    dues = sorted(d for d in (ln.get("due") for ln in loans) if d)
    with unit_of_work(rt.sessions) as s:
        ref = queue_message(
            s,
            MessageKind.PICKED_UP,
            bank_id=bank_id,
            patron=str(body["patron"]),
            event_key=f"receipt:{body['what']}:{body['at']}:{body['patron']}",
            facts={
                "titles": [ln["title"] for ln in loans],
                "items": len(loans),
                "picked_up_at": at,
                "due": dues[0] if dues else None,
                "loans": loans,
                "due_follows": bool(body.get("due_follows")),
            },
            now=now,
        )
    if ref is not None:
        outbox.dispatch(rt, "notification", ref)
    return ReceiptOutcome.QUEUED
