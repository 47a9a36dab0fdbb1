"""Phone links: the ready-for-pickup message links to a small page; at the bank the phone sends
back the kiosk's presence code and the pickup runs as for a typed code.

A link token is 16 random bytes (128 bits) plus an HMAC tag over them, both URL-safe base64:
a forged or mistyped token is refused before the database is asked. Only a keyed hash of the
whole token is stored. A link is single use (spent by the pickup it starts), dies with the
hold (``expires_at``), and is revoked when a new code is issued.

Order of work in :func:`open_from_phone`: the link must be live; the guessing limits of the
link (5 wrong presence codes lock it for 15 minutes, as for a card) are checked; the presence
code must be this bank's current or previous one; then ``bridge.services.pickup.hand_over``
checks the items out and opens the doors. Every refusal is audited.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services.access import presence
from bridge.services.access.links import TOKEN_BYTES as TOKEN_BYTES
from bridge.services.access.links import issue_link as issue_link
from bridge.services.access.links import link_hashes, link_key, link_tag
from bridge.services.access.links import new_token as new_token
from bridge.services.access.links import revoke_links as revoke_links
from bridge.services.access.verification import Verdict, presence_key, verify_presence
from bridge.services.banks import audit
from bridge.services.pickup import PickupOutcome, Refusal, hand_over
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import PhoneLinkRow
from bridge.storage.tables.lockers import LoadRow


class LinkState(StrEnum):
    LIVE = "live"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LinkView:
    """What the phone page shows about a link (no card numbers)."""

    state: LinkState
    bank_id: str | None = None
    bank_name: str | None = None
    address: str | None = None
    items: tuple[str, ...] = ()
    doors: tuple[int, ...] = ()
    expires_at: datetime | None = None


class PhoneOutcome(StrEnum):
    OPENED = "opened"
    PICKUP_REFUSED = "pickup_refused"  # the pickup service said no (see ``pickup``)
    LINK_REFUSED = "link_refused"  # see ``link``
    NOT_HERE = "not_here"  # presence code wrong, old or of another bank
    LOCKED_OUT = "locked_out"


@dataclass(frozen=True)
class PhoneResult:
    outcome: PhoneOutcome
    opened: tuple[int, ...] = ()
    fee_to_acknowledge: bool = False
    other_bank: str | None = None  # NOT_HERE: the number was from this other bank's screen
    bank: str | None = None  # ... and the items are at this one
    offline: bool = False  # OPENED while the ILS was down: the loan is recorded later
    link: LinkState | None = None  # LINK_REFUSED: what is wrong with the link
    number: presence.Presence | None = None  # NOT_HERE: what the number turned out to be
    locked_until: datetime | None = None  # LOCKED_OUT
    pickup: PickupOutcome | None = None  # OPENED, PICKUP_REFUSED: what the pickup said
    refused: tuple[Refusal, ...] = ()  # PICKUP_REFUSED: the items that stay, and why


# --- tokens ---------------------------------------------------------------------------------


def signature_ok(rt: Runtime, token: str) -> bool:
    body, _, tag = token.partition(".")
    if not body or not tag or len(token) > 100:
        return False
    return any(
        hmac.compare_digest(link_tag(link_key(rt, i), body), tag)
        for i in range(len(rt.settings.security.code_keys))
    )


def kiosk_code(rt: Runtime, bank_id: str, at: datetime | None = None) -> tuple[str, int]:
    """The presence code the kiosk of ``bank_id`` shows now, and seconds until it changes."""
    rt.settings.bank(bank_id)
    at = at or rt.clock()
    window = rt.settings.access.presence_window_seconds
    return presence.current_code(presence_key(rt), bank_id, at, window), presence.seconds_left(
        at, window
    )


# --- issuing --------------------------------------------------------------------------------


def _find(rt: Runtime, s: Session, token: str) -> PhoneLinkRow | None:
    if not signature_ok(rt, token):
        return None
    return s.scalars(
        select(PhoneLinkRow).where(PhoneLinkRow.token_hash.in_(link_hashes(rt, token)))
    ).first()


def _state(row: PhoneLinkRow | None, now: datetime) -> LinkState:
    if row is None:
        return LinkState.UNKNOWN
    if row.used_at is not None:
        return LinkState.USED
    if row.revoked_at is not None:
        return LinkState.REVOKED
    if now >= row.expires_at:
        return LinkState.EXPIRED
    return LinkState.LIVE


def view(rt: Runtime, token: str) -> LinkView:
    """What the link's page shows. Reading it changes nothing: mail scanners that fetch links
    must not spend them."""
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = _find(rt, s, token)
        state = _state(row, now)
        if row is None or state is not LinkState.LIVE:
            return LinkView(state)
        bank = rt.settings.bank(row.bank_id)
        loads = list(
            s.scalars(
                select(LoadRow).where(
                    LoadRow.bank_id == row.bank_id,
                    LoadRow.patron_ref == row.patron_ref,
                    LoadRow.state == "loaded",
                    LoadRow.kind == "hold",
                )
            )
        )
        return LinkView(
            state,
            bank_id=bank.id,
            bank_name=bank.name,
            address=bank.address,
            items=tuple(ld.title or ld.item_barcode for ld in loads),
            doors=tuple(sorted({ld.compartment for ld in loads})) if bank.show_door_number else (),
            expires_at=row.expires_at,
        )


# --- opening --------------------------------------------------------------------------------


def _refuse_link(
    rt: Runtime, state: LinkState, bank_id: str | None, subject: str | None
) -> PhoneResult:
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "phone_link_refused",
            at=rt.clock(),
            bank_id=bank_id,
            actor="patron",
            subject=subject,
            reason="replayed" if state is LinkState.USED else state.value,
        )
    return PhoneResult(PhoneOutcome.LINK_REFUSED, link=state)


def open_from_phone(
    rt: Runtime, token: str, code: str, *, fee_acknowledged: bool = False
) -> PhoneResult:
    """The patron at the bank sent the kiosk's presence code from the phone page."""

    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = _find(rt, s, token)
        state = _state(row, now)
        link_id = row.id if row else None
        bank_id = row.bank_id if row else None
        patron_ref = row.patron_ref if row else None
    if state is not LinkState.LIVE or bank_id is None or patron_ref is None:
        return _refuse_link(rt, state, bank_id, patron_ref)

    checked = verify_presence(
        rt, bank_id, code, subject=f"phone:{link_id}", via="phone", ref=patron_ref
    )
    if checked.verified.verdict is Verdict.LOCKED_OUT:
        until = checked.verified.until
        assert until is not None
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "phone_locked_out",
                at=now,
                bank_id=bank_id,
                actor="patron",
                subject=patron_ref,
                until=until.isoformat(),
            )
        return PhoneResult(PhoneOutcome.LOCKED_OUT, locked_until=until)
    if not checked.verified.ok:
        assert checked.found is not None
        return _not_here(rt, bank_id, patron_ref, checked.found)
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "phone_presence_confirmed",
            at=now,
            bank_id=bank_id,
            actor="patron",
            subject=patron_ref,
        )
    result = hand_over(
        rt, bank_id, patron_ref, via="phone", actor="patron", fee_acknowledged=fee_acknowledged
    )
    spent = result.outcome in (
        PickupOutcome.OPENED,
        PickupOutcome.OPENED_OFFLINE,
        PickupOutcome.PARTLY,
        PickupOutcome.DOOR_FAILED,
        PickupOutcome.NOTHING_WAITING,
    )
    if spent:
        with unit_of_work(rt.sessions) as s:
            s.execute(
                update(PhoneLinkRow)
                .where(PhoneLinkRow.id == link_id, PhoneLinkRow.used_at.is_(None))
                .values(used_at=rt.clock())
            )
    if result.opened:
        return PhoneResult(
            PhoneOutcome.OPENED,
            result.opened,
            offline=result.outcome is PickupOutcome.OPENED_OFFLINE,
            pickup=result.outcome,
            refused=result.refused,
        )
    return PhoneResult(
        PhoneOutcome.PICKUP_REFUSED,
        fee_to_acknowledge=result.fee_to_acknowledge,
        pickup=result.outcome,
        refused=result.refused,
    )


def _not_here(
    rt: Runtime,
    bank_id: str,
    patron_ref: str,
    found: presence.PresenceCheck,
) -> PhoneResult:
    bank = rt.settings.bank(bank_id)
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "phone_presence_refused",
            at=rt.clock(),
            bank_id=bank_id,
            actor="patron",
            subject=patron_ref,
            reason=found.presence.value,
            other_bank=found.other_bank,
        )
    if found.presence is presence.Presence.OTHER_BANK and found.other_bank:
        return PhoneResult(
            PhoneOutcome.NOT_HERE,
            other_bank=rt.settings.bank(found.other_bank).name,
            bank=bank.name,
            number=found.presence,
        )
    return PhoneResult(PhoneOutcome.NOT_HERE, number=found.presence)
