"""The one guarded way to tell who a patron is (docs/access.md, "Guessing limits").

Pickup, re-issue, day use, equipment and the card readers all come here, so every way in has
the same limits, the same verdicts and the same audit (the words for a verdict belong to the
page that shows it, :mod:`bridge.web.kiosk.words`):

- :func:`verify_card`: library card + PIN, the PIN checked by the ILS;
- :func:`verify_secret`: a typed code or a QR token, matched against the live grants.

Order, whatever the secret:

1. at most one verification in flight per card (or per bank for codes, which name no card):
   a second one at the same moment is refused as busy, never queued behind the first;
2. one attempt is reserved, atomically, against every budget that applies
   (:mod:`bridge.services.access.attempts`) - the card (5 failures per 15 minutes, ended by a
   success; 10 per 24 hours), the kiosk device or client (20 per 10 minutes), and for codes the
   bank's budget (``access.code_failures_per_bank_per_day``); over any budget nothing is checked;
3. only then the secret is checked; success refunds the attempt, failure keeps it (each failure
   its own entry), an ILS that does not answer refunds it;
4. when the bank's code budget is half spent, staff are alerted once per budget
   (``code_guessing_alert`` in the audit log, and a warning in the log).

Audit: ``patron_verify_failed`` (reason ``pin``, ``unknown_card``, ``unknown``, ``used``,
``revoked``, ``expired``), ``patron_verify_locked_out`` (which budget), ``patron_verify_busy``;
the card appears only as its pseudonym.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from bridge.infra import ils_circuit
from bridge.runtime import Runtime
from bridge.services.access import presence
from bridge.services.access.attempts import Attempt, Budget, InFlight, OverBudget, reserve
from bridge.services.banks import SqlGrantStore, audit, hashers, pseudonym
from bridge.services.wiring import adapter_for
from bridge.storage.db import unit_of_work
from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown, PatronCheck
from lockers.access import AccessGrant

if TYPE_CHECKING:
    from bridge.services.access.presence import PresenceCheck

log = logging.getLogger(__name__)

CARD_RUN = (5, 15 * 60)  # failures in a row (a success ends the run)
CARD_DAY = (10, 24 * 3600)
KIOSK_WINDOW = (20, 10 * 60)


class Verdict(StrEnum):
    OK = "ok"
    DENIED = "denied"
    LOCKED_OUT = "locked_out"
    BUSY = "busy"
    ILS_UNAVAILABLE = "ils_unavailable"


@dataclass(frozen=True)
class Verified:
    verdict: Verdict
    patron_ref: str | None = None
    check: PatronCheck | None = None  # card + PIN: what the ILS said about the patron
    grant: AccessGrant | None = None  # code or QR: the live grant it matched
    until: datetime | None = None  # LOCKED_OUT: when an attempt frees

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


def card_budgets(rt: Runtime, bank_id: str, ref: str, kiosk: str) -> tuple[Budget, ...]:
    return (
        Budget(f"card-run:{ref}", *CARD_RUN, reset_on_success=True),
        Budget(f"card-day:{ref}", *CARD_DAY),
        kiosk_budget(bank_id, kiosk),
    )


def kiosk_budget(bank_id: str, kiosk: str) -> Budget:
    return Budget(f"kiosk:{bank_id}/{kiosk}"[:160], *KIOSK_WINDOW)


def code_budget(rt: Runtime, bank_id: str) -> Budget:
    return Budget(f"code-bank:{bank_id}", rt.settings.access.code_failures_per_bank_per_day, 86400)


def _reserve(
    rt: Runtime, bank_id: str, budgets: tuple[Budget, ...], via: str, ref: str | None
) -> Attempt | Verified:
    try:
        return reserve(rt.redis, rt.clock(), *budgets)
    except OverBudget as exc:
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "patron_verify_locked_out",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                via=via,
                until=exc.until.isoformat(),
            )
        return Verified(Verdict.LOCKED_OUT, ref, until=exc.until)


def _failed(rt: Runtime, bank_id: str, via: str, reason: str, ref: str | None) -> None:
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "patron_verify_failed",
            at=rt.clock(),
            bank_id=bank_id,
            actor="patron",
            subject=ref,
            via=via,
            reason=reason,
        )


def _busy(rt: Runtime, bank_id: str, via: str, ref: str | None) -> Verified:
    with unit_of_work(rt.sessions) as s:
        audit(
            s, "patron_verify_busy", at=rt.clock(), bank_id=bank_id, actor="patron", subject=ref,
            via=via,
        )
    return Verified(Verdict.BUSY, ref)


def verify_card(
    rt: Runtime, bank_id: str, card: str, pin: str, *, kiosk: str, via: str
) -> Verified:
    """Card + PIN through the ILS, behind the budgets. The PIN is never stored or logged."""

    ils = rt.settings.bank(bank_id).ils
    card = card.strip()
    ref = pseudonym(rt, card)
    if ils_circuit.is_down(rt, ils):
        # Known down a moment ago: answer at once instead of after the connect timeouts.
        return Verified(Verdict.ILS_UNAVAILABLE, ref)
    with InFlight(rt.redis, f"card:{ref}") as flight:
        if not flight.held:
            return _busy(rt, bank_id, via, ref)
        attempt = _reserve(rt, bank_id, card_budgets(rt, bank_id, ref, kiosk), via, ref)
        if isinstance(attempt, Verified):
            return attempt
        try:
            check = adapter_for(rt, bank_id).verify_patron(card, pin)
        except (IlsUnavailable, IlsRejected, OutcomeUnknown) as exc:
            attempt.refund()
            if isinstance(exc, IlsUnavailable):
                ils_circuit.mark_down(rt, ils, str(exc))
            with unit_of_work(rt.sessions) as s:
                audit(
                    s, "patron_verify_ils_unavailable", at=rt.clock(), bank_id=bank_id,
                    actor="patron", subject=ref, via=via, why=type(exc).__name__,
                )
            return Verified(Verdict.ILS_UNAVAILABLE, ref)
        except BaseException:
            attempt.refund()
            raise
        if not check.known or check.pin_ok is not True:
            _failed(rt, bank_id, via, "unknown_card" if not check.known else "pin", ref)
            return Verified(Verdict.DENIED, ref)
        attempt.refund(success=True)
        return Verified(Verdict.OK, ref, check=check)


def verify_secret(
    rt: Runtime,
    bank_id: str,
    secret: str,
    *,
    kind: str,
    kiosk: str,
    via: str | None = None,
    still_entitled: Callable[[str], bool] | None = None,
) -> Verified:
    """A typed code (``kind="code"``) or QR token (``"qr"``) against the bank's live grants.

    ``still_entitled(patron_ref)`` lets a caller accept a grant that is already used when the
    use it was spent on never finished (a pickup cut short before its doors opened): the
    secret is right, so it counts as a success, and the grant is returned as found."""
    rt.settings.bank(bank_id)
    via = via or kind
    secret = secret.strip()
    keyed = [
        h.code(bank_id, secret) if kind == "code" else h.qr(bank_id, secret) for h in hashers(rt)
    ]
    bank = code_budget(rt, bank_id)
    budgets = (kiosk_budget(bank_id, kiosk), bank)
    attempt = _reserve(rt, bank_id, budgets, via, None)
    if isinstance(attempt, Verified):
        return attempt
    try:
        now = rt.clock()
        with unit_of_work(rt.sessions) as s:
            store = SqlGrantStore(s)
            found: list[AccessGrant] = []
            for h in keyed:
                found += (
                    store.find(bank_id, code_hash=h)
                    if kind == "code"
                    else store.find(bank_id, qr_hash=h)
                )
    except BaseException:
        attempt.refund()
        raise
    live = [g for g in found if g.is_live(now)]
    if not live:
        why = "unknown"
        if any(g.used_at for g in found):
            why = "used"
        elif any(g.revoked_at for g in found):
            why = "revoked"
        elif found:
            why = "expired"
        used = [g for g in found if g.used_at]
        if used and still_entitled is not None and still_entitled(used[0].patron_ref):
            attempt.refund(success=True)
            return Verified(Verdict.OK, used[0].patron_ref, grant=used[0])
        _failed(rt, bank_id, via, why, None)
        _alert_when_half_spent(rt, bank_id, bank, attempt)
        return Verified(Verdict.DENIED)
    attempt.refund(success=True)
    return Verified(Verdict.OK, live[0].patron_ref, grant=live[0])


def _alert_when_half_spent(rt: Runtime, bank_id: str, bank: Budget, attempt: Attempt) -> None:
    """Staff hear once per budget when half the bank's code failures are spent: someone may be
    working through codes. Each count is seen by exactly one attempt, so this fires once."""
    count = attempt.counts.get(bank.key, 0)
    if count != max(1, bank.limit // 2):
        return
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "code_guessing_alert",
            at=rt.clock(),
            bank_id=bank_id,
            actor="system",
            failures=count,
            budget=bank.limit,
        )
    log.warning(
        "code guessing at bank %s: %d wrong codes in 24 h (budget %d); codes are refused there "
        "once the budget is spent",
        bank_id,
        count,
        bank.limit,
    )


@dataclass(frozen=True)
class PresenceVerified:
    """The presence number's check behind its budgets: ``verified`` says whether it may go
    on; ``found`` is what the number turned out to be (None when nothing was checked)."""

    verified: Verified
    found: PresenceCheck | None = None


def presence_key(rt: Runtime) -> bytes:
    """The key the kiosks' presence numbers are derived with: ``security.presence_key``, else
    one derived from the first code key (a different hash input, so neither reveals the
    other)."""
    security = rt.settings.security
    secret = security.presence_key or security.code_keys[0]
    return hashlib.sha256(b"presence\x00" + secret.encode()).digest()


PRESENCE_RUN = (5, 15 * 60)  # wrong numbers per phone link or client, ended by a success


def verify_presence(
    rt: Runtime, bank_id: str, code: str, *, subject: str, via: str, ref: str | None = None
) -> PresenceVerified:
    """The number shown on the bank's kiosk screen, typed on a phone: counted against
    ``subject`` (a phone link, or the client for day use) before it is checked."""
    budget = Budget(f"presence:{subject}"[:160], *PRESENCE_RUN, reset_on_success=True)
    attempt = _reserve(rt, bank_id, (budget,), via, ref)
    if isinstance(attempt, Verified):
        return PresenceVerified(attempt)
    found = presence.check(
        presence_key(rt),
        bank_id,
        code,
        rt.clock(),
        rt.settings.access.presence_window_seconds,
        [b.id for b in rt.settings.banks],
    )
    if found.presence is not presence.Presence.HERE:
        _failed(rt, bank_id, via, f"presence_{found.presence.value}", ref)
        return PresenceVerified(Verified(Verdict.DENIED, ref), found)
    attempt.refund(success=True)
    return PresenceVerified(Verified(Verdict.OK, ref), found)
