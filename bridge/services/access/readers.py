"""Card readers and vendor credentials at the bank (``lockers.drivers.base.CardRead``).

A barcode or RFID/NFC reader reports the library card number as read; a biometric reader or a
vendor app reports a credential it has already verified, as ``"<scheme>:<id>"`` (e.g.
``"palm:7f3a..."``), which the library maps to a card (``[[credential_map]]`` in the settings,
or :func:`enrol_credential`). A library card number never contains ``:``.

Then the flow is the one of a typed card:

- the bank asks for the PIN (``require_pin_with_reader``, the default): the card waits in Redis
  for at most :data:`PIN_WAIT_SECONDS` and the kiosk calls :func:`finish_with_pin`, which is
  ``bridge.services.pickup.pickup_with_card`` (PIN checked with the ILS before any checkout);
- the bank trusts the reader alone: the ILS is asked whether the card is known and may borrow
  (patron information without a PIN), then ``hand_over`` checks out and opens.

Card numbers are credentials: never logged; audited as pseudonyms only.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.access.attempts import Budget, OverBudget, reserve
from bridge.services.access.verification import kiosk_budget
from bridge.services.banks import audit, hashers, pseudonym
from bridge.services.pickup import PickupOutcome, hand_over, pickup_with_card
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import CredentialRow
from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown
from lockers.drivers.base import CardRead

PIN_WAIT_SECONDS = 90
RESULT_SECONDS = 30
_PENDING = "lockerbridge:reader-pending:{bank}"
_RESULT = "lockerbridge:reader-result:{bank}"


class ReaderOutcome(StrEnum):
    OPENED = "opened"
    NEEDS_PIN = "needs_pin"
    UNKNOWN_CARD = "unknown_card"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    BLOCKED = "blocked"
    DENIED = "denied"  # the PIN typed after the read was not accepted
    REFUSED = "refused"  # the pickup service said no (nothing waiting, checkout refused ...)
    LOCKED_OUT = "locked_out"
    ILS_UNAVAILABLE = "ils_unavailable"


@dataclass(frozen=True)
class ReaderResult:
    outcome: ReaderOutcome
    opened: tuple[int, ...] = ()
    locked_until: datetime | None = None  # LOCKED_OUT
    # Which read this is: the kiosk shows each result once, even two alike in a row.
    shown_id: str = ""


def _credential_hash(rt: Runtime, scheme: str, credential: str) -> str:
    return hashers(rt)[0].digest("credential", scheme, credential)


def enrol_credential(rt: Runtime, scheme: str, credential: str, card: str, *, actor: str) -> None:
    """Links a verified vendor credential to a library card (replacing an earlier link)."""
    now = rt.clock()
    digest = _credential_hash(rt, scheme, credential)
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(
            select(CredentialRow).where(
                CredentialRow.scheme == scheme, CredentialRow.credential_hash == digest
            )
        ).first()
        if row is None:
            row = CredentialRow(scheme=scheme, credential_hash=digest, created_at=now)
            s.add(row)
        row.card, row.created_by = card.strip(), actor
        audit(
            s,
            "credential_enrolled",
            at=now,
            actor=actor,
            subject=pseudonym(rt, card),
            scheme=scheme,
        )


def resolve(rt: Runtime, credential: str) -> str | None:
    """The library card behind what a reader reported, or None for an unmapped credential."""
    credential = credential.strip()
    if ":" not in credential:
        return credential or None
    scheme, _, ident = credential.partition(":")
    for mapping in rt.settings.credential_map:
        if mapping.scheme == scheme and hmac.compare_digest(
            mapping.credential.encode(), ident.encode()
        ):
            return mapping.card
    with unit_of_work(rt.sessions) as s:
        return s.scalars(
            select(CredentialRow.card).where(
                CredentialRow.scheme == scheme,
                CredentialRow.credential_hash == _credential_hash(rt, scheme, ident),
            )
        ).first()


def card_read(rt: Runtime, event: CardRead) -> ReaderResult:
    """Starts access for what the reader reported; the result is also kept for the kiosk."""
    bank = rt.settings.bank(event.bank_id)
    kiosk = kiosk_budget(bank.id, f"reader:{event.reader}")
    mapped = ":" in event.credential
    card = resolve(rt, event.credential)
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "card_read",
            at=event.at,
            bank_id=bank.id,
            actor="controller",
            subject=pseudonym(rt, card) if card else None,
            reader=event.reader,
            mapped=mapped or None,
        )
    if card is None:
        scheme = event.credential.partition(":")[0][:32]
        result = _refuse(rt, bank.id, kiosk, "unknown_credential", None, scheme=scheme)
        return _show(rt, bank.id, result)
    if bank.require_pin_with_reader:
        rt.redis.set(
            _PENDING.format(bank=bank.id),
            json.dumps({"card": card, "reader": event.reader}),
            ex=PIN_WAIT_SECONDS,
        )
        return _show(rt, bank.id, ReaderResult(ReaderOutcome.NEEDS_PIN))
    return _show(rt, bank.id, _without_pin(rt, bank.id, card, kiosk))


def _without_pin(rt: Runtime, bank_id: str, card: str, kiosk: Budget) -> ReaderResult:
    ref = pseudonym(rt, card)
    try:
        # Counted before the ILS is asked; an unknown card keeps its entry.
        attempt = reserve(rt.redis, rt.clock(), kiosk)
    except OverBudget as exc:
        return ReaderResult(ReaderOutcome.LOCKED_OUT, locked_until=exc.until)
    try:
        # No PIN was given: only "known" and "may borrow" are read from the answer.
        check = adapter_for(rt, bank_id).verify_patron(card, "")
    except (IlsUnavailable, IlsRejected, OutcomeUnknown):
        attempt.refund()
        return ReaderResult(ReaderOutcome.ILS_UNAVAILABLE)
    if not check.known:
        return _refuse(rt, bank_id, kiosk, "unknown_card", ref, counted=True)
    attempt.refund(success=True)
    if check.blocked:
        reasons = "; ".join(check.block_reasons) or "card blocked"
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "reader_refused",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                reason="blocked",
                reasons=reasons,
            )
        return ReaderResult(ReaderOutcome.BLOCKED)
    done = hand_over(rt, bank_id, ref, via="reader", actor="patron")
    if done.opened:
        return ReaderResult(ReaderOutcome.OPENED, done.opened)
    return ReaderResult(ReaderOutcome.REFUSED)


def _refuse(
    rt: Runtime,
    bank_id: str,
    kiosk: Budget,
    reason: str,
    subject: str | None,
    scheme: str | None = None,
    *,
    counted: bool = False,
) -> ReaderResult:
    if not counted:
        # An unmapped credential costs the reader one attempt, like an unknown card.
        with contextlib.suppress(OverBudget):
            reserve(rt.redis, rt.clock(), kiosk)
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "reader_refused",
            at=rt.clock(),
            bank_id=bank_id,
            actor="patron",
            subject=subject,
            reason=reason,
            scheme=scheme,
        )
    if reason == "unknown_card":
        return ReaderResult(ReaderOutcome.UNKNOWN_CARD)
    return ReaderResult(ReaderOutcome.UNKNOWN_CREDENTIAL)


def _show(rt: Runtime, bank_id: str, result: ReaderResult) -> ReaderResult:
    result = replace(result, shown_id=secrets.token_hex(8))
    payload = {
        "outcome": result.outcome.value,
        "opened": list(result.opened),
        "locked_until": result.locked_until.isoformat() if result.locked_until else None,
        "shown_id": result.shown_id,
    }
    rt.redis.set(_RESULT.format(bank=bank_id), json.dumps(payload), ex=RESULT_SECONDS)
    return result


def last_result(rt: Runtime, bank_id: str) -> ReaderResult | None:
    """What the kiosk of ``bank_id`` should show about the last read (for 30 s)."""
    raw = rt.redis.get(_RESULT.format(bank=bank_id))
    if raw is None:
        return None
    data = json.loads(raw)
    until = data.get("locked_until")
    return ReaderResult(
        ReaderOutcome(data["outcome"]),
        tuple(data["opened"]),
        datetime.fromisoformat(until) if until else None,
        data.get("shown_id", ""),
    )


def waiting_for_pin(rt: Runtime, bank_id: str) -> bool:
    return bool(rt.redis.exists(_PENDING.format(bank=bank_id)))


def cancel_pin(rt: Runtime, bank_id: str) -> bool:
    """The patron at the kiosk chose not to enter the PIN: the card no longer waits."""
    return bool(rt.redis.delete(_PENDING.format(bank=bank_id)))


def finish_with_pin(rt: Runtime, bank_id: str, pin: str, *, kiosk: str = "kiosk") -> ReaderResult:
    """The PIN typed at the kiosk after a card read: exactly ``pickup_with_card``."""

    raw = rt.redis.getdel(_PENDING.format(bank=bank_id))
    if raw is None:
        return ReaderResult(ReaderOutcome.REFUSED)  # no card waits: present it again
    card = json.loads(raw)["card"]
    done = pickup_with_card(rt, bank_id, card, pin, kiosk=kiosk)
    outcome = {
        PickupOutcome.DENIED: ReaderOutcome.DENIED,
        PickupOutcome.LOCKED_OUT: ReaderOutcome.LOCKED_OUT,
        PickupOutcome.BLOCKED: ReaderOutcome.BLOCKED,
        PickupOutcome.ILS_UNAVAILABLE: ReaderOutcome.ILS_UNAVAILABLE,
        PickupOutcome.CARD_NEEDS_ILS: ReaderOutcome.ILS_UNAVAILABLE,
    }.get(done.outcome, ReaderOutcome.OPENED if done.opened else ReaderOutcome.REFUSED)
    return _show(rt, bank_id, ReaderResult(outcome, done.opened, done.locked_until))
