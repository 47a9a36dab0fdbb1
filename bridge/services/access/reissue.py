"""Lost or forgotten codes: a fresh code (and phone link) for what waits for a patron.

Three ways in, one use case (:func:`reissue`):

- at the kiosk with card + PIN (:func:`reissue_with_card`): the PIN is checked with the ILS
  under the same guessing limits as a pickup; the new code is shown once and also sent;
- "send my message again" (:func:`resend_message`): card number only, so the answer never
  says whether anything waits (no probing of cards) and nothing is revoked; the extra code goes
  only to the patron's own address on file;
- staff from the status page (:func:`reissue_for_compartment`), with a reason.

Codes are stored as keyed hashes, so the old one cannot be sent again: with card + PIN or by
staff it is revoked in the same transaction as the new one is issued, and stops working at
once. Every re-issue is audited and limited per patron (``access.reissues_per_patron_per_day``)
and per member of staff (``access.reissues_per_staff_per_hour``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.infra import outbox
from bridge.notify import MessageKind, queue_message
from bridge.notify.optout import patron_keys
from bridge.runtime import Runtime
from bridge.services.access import phone
from bridge.services.access.attempts import Budget, OverBudget, reserve
from bridge.services.access.verification import Verdict, verify_card
from bridge.services.banks import (
    SqlGrantStore,
    access_codes,
    audit,
    pseudonym,
)
from bridge.services.doors.readiness import ready_facts
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.notifications import NotificationRow


class ReissueOutcome(StrEnum):
    ISSUED = "issued"
    NOTHING_WAITING = "nothing_waiting"
    TOO_MANY = "too_many"  # the patron's daily limit
    STAFF_TOO_MANY = "staff_too_many"  # the staff member's hourly limit
    DENIED = "denied"  # card or PIN not accepted
    LOCKED_OUT = "locked_out"
    ILS_UNAVAILABLE = "ils_unavailable"
    RESEND_ANSWERED = "resend_answered"  # the one answer to "send my message again"


@dataclass(frozen=True)
class ReissueResult:
    outcome: ReissueOutcome
    code: str | None = None  # only for the kiosk screen after card + PIN; never stored
    compartments: tuple[int, ...] = ()


def _count(
    s: Session, since: datetime, *, subject: str | None = None, actor: str | None = None
) -> int:
    q = (
        select(func.count())
        .select_from(AuditEventRow)
        .where(AuditEventRow.kind == "access_reissued", AuditEventRow.at >= since)
    )
    if subject is not None:
        q = q.where(AuditEventRow.subject == subject)
    if actor is not None:
        q = q.where(AuditEventRow.actor == actor)
    return int(s.scalar(q) or 0)


def reissue(
    rt: Runtime,
    bank_id: str,
    patron_ref: str,
    *,
    actor: str,
    via: str,
    reason: str | None = None,
    revoke: bool = True,
) -> ReissueResult:
    """Revokes the patron's codes and phone links at ``bank_id`` (unless ``revoke`` is False)
    and issues new ones, with a new ready-for-pickup message; one transaction. Raises KeyError
    for an unknown bank."""

    bank = rt.settings.bank(bank_id)
    now = rt.clock()
    ref: str | None = None
    with unit_of_work(rt.sessions) as s:
        limit = rt.settings.access.reissues_per_patron_per_day
        staff = actor.startswith("staff:")

        def too_many(reason: str, outcome: ReissueOutcome) -> ReissueResult:
            audit(
                s,
                "access_reissue_refused",
                at=now,
                bank_id=bank_id,
                actor=actor,
                subject=patron_ref,
                reason=reason,
                via=via,
            )
            return ReissueResult(outcome)

        if _count(s, now - timedelta(days=1), subject=patron_ref) >= limit and not staff:
            return too_many("patron_limit", ReissueOutcome.TOO_MANY)
        per_hour = rt.settings.access.reissues_per_staff_per_hour
        if staff and _count(s, now - timedelta(hours=1), actor=actor) >= per_hour:
            return too_many("staff_limit", ReissueOutcome.STAFF_TOO_MANY)
        loads = list(
            s.scalars(
                select(LoadRow).where(
                    LoadRow.bank_id == bank_id,
                    LoadRow.patron_ref == patron_ref,
                    LoadRow.state == "loaded",
                    LoadRow.kind == "hold",
                    LoadRow.patron.is_not(None),
                )
            )
        )
        if not loads:
            audit(
                s,
                "access_reissue_refused",
                at=now,
                bank_id=bank_id,
                actor=actor,
                subject=patron_ref,
                reason="nothing_waiting",
                via=via,
            )
            return ReissueResult(ReissueOutcome.NOTHING_WAITING)
        codes = access_codes(rt, s)
        card = loads[0].patron or ""
        replaces = _last_code_sent(rt, s, bank_id, card) if revoke else None
        if revoke:
            for grant in SqlGrantStore(s).of_patron(bank_id, patron_ref, now):
                codes.revoke(grant, now)
        doors = tuple(sorted({ld.compartment for ld in loads}))
        expires = min(ld.expires_at or now + timedelta(days=bank.hold_shelf_days) for ld in loads)
        issued = codes.issue(
            bank_id=bank_id,
            patron_ref=patron_ref,
            compartments=doors,
            now=now,
            expires_at=expires,
            card_number=card,
        )
        url = phone.issue_link(
            rt,
            s,
            bank_id=bank_id,
            patron_ref=patron_ref,
            expires_at=expires,
            now=now,
            grant_id=issued.grant.grant_id,
        )
        audit(
            s,
            "access_reissued",
            at=now,
            bank_id=bank_id,
            actor=actor,
            subject=patron_ref,
            via=via,
            reason=reason,
            grant=issued.grant.grant_id,
        )
        facts = ready_facts(bank, loads, doors, issued, expires)
        facts["reissued"] = True
        if replaces is not None:
            facts["replaces_sent_at"] = replaces
        if url:
            facts["phone_url"] = url
        ref = queue_message(
            s,
            MessageKind.READY_FOR_PICKUP,
            bank_id=bank_id,
            patron=card,
            event_key=f"reissue:{issued.grant.grant_id}",
            facts=facts,
            now=now,
        )
    if ref:
        outbox.dispatch(rt, "notification", ref)
    return ReissueResult(ReissueOutcome.ISSUED, issued.typed_code, doors)


def _last_code_sent(rt: Runtime, s: Session, bank_id: str, card: str) -> datetime | None:
    """When the patron's last ready-for-pickup message with a code left (the code a re-issue
    replaces), so the new message can say which one it replaces. A message not sent yet does
    not count: delivery folds it into the newer one (``bridge.notify.delivery``)."""

    if not card:
        return None
    return s.scalar(
        select(func.max(NotificationRow.settled_at)).where(
            NotificationRow.kind == MessageKind.READY_FOR_PICKUP.value,
            NotificationRow.bank_id == bank_id,
            NotificationRow.state.in_(("sent", "partial")),
            NotificationRow.patron_key.in_(patron_keys(rt.settings, card)),
        )
    )


def reissue_with_card(
    rt: Runtime, bank_id: str, card: str, pin: str, *, kiosk: str = "kiosk"
) -> ReissueResult:
    """Kiosk, card + PIN: the new code is returned for the screen (and sent)."""

    verified = verify_card(rt, bank_id, card, pin, kiosk=kiosk, via="reissue")
    if not verified.ok:
        outcome = {
            Verdict.DENIED: ReissueOutcome.DENIED,
            Verdict.ILS_UNAVAILABLE: ReissueOutcome.ILS_UNAVAILABLE,
        }.get(verified.verdict, ReissueOutcome.LOCKED_OUT)
        return ReissueResult(outcome)
    ref = verified.patron_ref
    assert ref is not None
    return reissue(rt, bank_id, ref, actor="patron", via="kiosk")


RESEND_PER_CARD = (3, 24 * 3600)
RESEND_PER_CLIENT = (10, 3600)


def resend_message(rt: Runtime, bank_id: str, card: str, *, client: str) -> ReissueResult:
    """ "Send my message again", with a card number only. Whatever the card - something waits,
    nothing waits, unknown, over a limit - the answer is the same, so it tells a stranger
    nothing. It revokes nothing (a stranger typing someone's card number must not take their
    code away): the patron's own address gets a message with an extra code. Its own limits,
    counted first: ``RESEND_PER_CARD`` per card and ``RESEND_PER_CLIENT`` per kiosk or client.
    """

    rt.settings.bank(bank_id)
    ref = pseudonym(rt, card)
    answer = ReissueResult(ReissueOutcome.RESEND_ANSWERED)
    try:
        reserve(
            rt.redis,
            rt.clock(),
            Budget(f"resend-card:{ref}", *RESEND_PER_CARD),
            Budget(f"resend-client:{bank_id}/{client}"[:160], *RESEND_PER_CLIENT),
        )
    except OverBudget:
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "access_reissue_refused",
                at=rt.clock(),
                bank_id=bank_id,
                actor="patron",
                subject=ref,
                reason="resend_limit",
                via="resend",
            )
        return answer
    reissue(rt, bank_id, ref, actor="patron", via="resend", revoke=False)
    return answer


def reissue_for_compartment(
    rt: Runtime, bank_id: str, compartment: int, *, actor: str, reason: str
) -> ReissueResult:
    """Staff, from the status page: a new code for whoever's items are in ``compartment``."""
    with unit_of_work(rt.sessions) as s:
        ref = s.scalars(
            select(LoadRow.patron_ref).where(
                LoadRow.bank_id == bank_id,
                LoadRow.compartment == compartment,
                LoadRow.state == "loaded",
                LoadRow.kind == "hold",
            )
        ).first()
    if ref is None:
        return ReissueResult(ReissueOutcome.NOTHING_WAITING, compartments=(compartment,))
    return reissue(rt, bank_id, ref, actor=actor, via="staff", reason=reason[:200] or None)
