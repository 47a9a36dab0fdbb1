"""Sending one notification: the body of the rq job ``bridge.jobs.notify.send_notification``.

Order of work, and why:

1. Claim the outbox row (a lease: no two workers send the same message).
2. Ask the ILS for the patron's contact now (never stored) and drop channels the patron opted
   out of or that were already sent on an earlier attempt.
3. Render every part first: a broken template fails the message before anything goes out.
4. Send channel by channel; each success is committed (``channels_sent``) before the next
   channel is tried, so a retry after a crash between channels does not repeat one.
   (A crash between the server accepting and that commit can still repeat one channel:
   delivery is at least once, never "maybe zero".)
5. Settle: blank the secrets, keep the card number only when staff must act, and complete
   the outbox row in the same transaction.

A failure that may pass (server refused, gateway timed out, ILS down) releases the row with
backoff (``outbox.retry_later``) until ``notifications.max_attempts``; one that will not pass
(invalid address, broken template, unknown card) fails the message at once, for staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bridge.config import BankSettings, Settings
from bridge.infra import outbox
from bridge.infra.metrics import NOTIFICATIONS
from bridge.notify import addresses, mail, qr
from bridge.notify.contacts import contact_source, look_up
from bridge.notify.errors import CannotDeliver, TemplateProblem, TryAgainLater
from bridge.notify.kinds import Channel, MessageKind
from bridge.notify.message import template_context
from bridge.notify.optout import opted_out, patron_keys
from bridge.notify.sms import SmsGateway
from bridge.notify.templates import Rendered, Templates
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow
from bridge.storage.tables.notifications import NotificationRow
from ils_adapters.base import Contact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    id: int
    kind: MessageKind
    bank_id: str
    patron: str
    facts: dict[str, Any]
    secrets: dict[str, Any] | None
    sent: frozenset[Channel]


def run(rt: Runtime, kind: str, ref: str) -> str:
    """Claims and sends notification ``ref``; returns what happened (for the rq result).

    Unexpected errors release the row for a retry and are re-raised, so rq records them.
    """
    claim = outbox.claim(rt, kind, ref)
    if claim is None:
        return "not claimed (done, failed, or leased by another worker)"
    try:
        return _deliver(rt, claim)
    except Exception as exc:
        outbox.retry_later(rt, claim, f"{type(exc).__name__}: {exc}")
        raise


def _replaced_by_reissue(s: Any, msg: _Pending) -> bool:
    """Whether a newer, still unsent, re-issued ready-for-pickup message for the same patron
    and bank exists: a re-issue revokes every earlier code of the patron there."""
    if not msg.patron:
        return False
    newer = s.scalars(
        select(NotificationRow.facts).where(
            NotificationRow.kind == MessageKind.READY_FOR_PICKUP.value,
            NotificationRow.bank_id == msg.bank_id,
            NotificationRow.patron == msg.patron,
            NotificationRow.state == "pending",
            NotificationRow.id > msg.id,
        )
    ).all()
    return any((facts or {}).get("reissued") for facts in newer)


def _deliver(rt: Runtime, claim: outbox.Claim) -> str:
    settings = rt.settings
    n = settings.notifications
    with unit_of_work(rt.sessions) as s:
        row = s.get(NotificationRow, int(claim.ref))
        if row is None or row.state != "pending":
            outbox.complete(s, claim, now=rt.clock())
            return "nothing to do"
        msg = _Pending(
            id=row.id,
            kind=MessageKind(row.kind),
            bank_id=row.bank_id,
            patron=row.patron or "",
            facts=dict(row.facts or {}),
            secrets=dict(row.secrets) if row.secrets else None,
            sent=frozenset(Channel(c) for c in row.channels_sent.split(",") if c),
        )
        last_error = s.scalars(select(OutboxRow.last_error).where(OutboxRow.id == claim.id)).one()
        optouts = opted_out(s, settings, msg.patron)
        replaced = msg.kind is MessageKind.READY_FOR_PICKUP and _replaced_by_reissue(s, msg)

    if replaced:
        # Codes re-issued in quick succession: only the newest message goes out (its code is
        # the only one that works), so the patron does not get a string of alike messages.
        return _settle(rt, claim, msg, "skipped", "a newer code for the same items replaces it")

    if claim.attempts > n.max_attempts:
        return _settle(
            rt,
            claim,
            msg,
            "failed",
            f"gave up after {n.max_attempts} attempts: {last_error or 'no error recorded'}",
        )
    if msg.kind is MessageKind.READY_FOR_PICKUP and not n.send_ready_message:
        return _settle(rt, claim, msg, "skipped", "the library sends the ILS's own notice")
    try:
        bank = settings.bank(msg.bank_id)
    except KeyError:
        return _settle(rt, claim, msg, "failed", f"bank {msg.bank_id!r} is not configured")
    enabled = [
        c for c, on in ((Channel.EMAIL, n.email.enabled), (Channel.SMS, n.sms.enabled)) if on
    ]
    if not enabled:
        return _settle(rt, claim, msg, "skipped", "no channel (email, SMS) is enabled")
    if all(c in optouts for c in enabled):
        return _settle(rt, claim, msg, "skipped", "the patron opted out of every channel")

    try:
        contact = look_up(contact_source(rt, msg.bank_id), msg.patron)
    except TryAgainLater as exc:
        return _again_or_fail(rt, claim, msg, {"contact": str(exc)}, {})
    if contact is None:
        return _settle(rt, claim, msg, "failed", "the ILS does not know this library card")

    # Channel -> the validated address, or the reason it cannot be used.
    targets: dict[Channel, str] = {}
    problems: dict[str, str] = {}
    for channel in enabled:
        if channel in optouts or channel in msg.sent:
            continue
        raw = contact.email if channel is Channel.EMAIL else contact.phone
        if not raw:
            continue
        try:
            targets[channel] = (
                addresses.email_address(raw)
                if channel is Channel.EMAIL
                else addresses.phone_number(raw)
            )
        except CannotDeliver as exc:
            problems[channel.value] = str(exc)
    if not targets and not problems and not msg.sent:
        return _settle(rt, claim, msg, "failed", "the ILS has no email or phone for this patron")

    try:
        rendered, qr_png, qr_cid = _render(rt, msg, bank, contact)
    except TemplateProblem as exc:
        return _settle(rt, claim, msg, "failed", str(exc))

    transient: dict[str, str] = {}
    sent = set(msg.sent)
    for channel, address in targets.items():
        try:
            if channel is Channel.EMAIL:
                email = mail.build(
                    rendered,
                    sender=n.email.sender,
                    sender_name=n.library_name,
                    to=address,
                    qr_png=qr_png,
                    qr_cid=qr_cid,
                )
                _mailer(rt).send(email, address)
            else:
                _gateway(rt).send(address, rendered.sms)
        except TryAgainLater as exc:
            transient[channel.value] = str(exc)
            NOTIFICATIONS.labels(channel=channel.value, result="retry").inc()
            continue
        except CannotDeliver as exc:
            problems[channel.value] = str(exc)
            NOTIFICATIONS.labels(channel=channel.value, result="failed").inc()
            continue
        NOTIFICATIONS.labels(channel=channel.value, result="sent").inc()
        sent.add(channel)
        _mark_sent(rt, msg.id, sent, rendered.language)
        log.info("notification %s (%s) sent by %s", msg.id, msg.kind.value, channel.value)
    done = _Pending(**{**msg.__dict__, "sent": frozenset(sent)})
    return _again_or_fail(rt, claim, done, transient, problems)


def _render(
    rt: Runtime, msg: _Pending, bank: BankSettings, contact: Contact
) -> tuple[Rendered, bytes | None, str | None]:
    n = rt.settings.notifications
    templates: Templates = rt.cached("notify:templates", lambda: Templates(n))
    language = templates.choose_language(
        msg.kind, [contact.language, bank.language, n.default_language]
    )
    token = (msg.secrets or {}).get("qr_token")
    qr_cid = mail.new_cid() if token else None
    context = template_context(
        n, bank, msg.facts, msg.secrets, qr_src=f"cid:{qr_cid}" if qr_cid else None
    )
    rendered = templates.render(msg.kind, language, context)
    return rendered, (qr.png(str(token)) if token else None), qr_cid


def _mailer(rt: Runtime) -> mail.SmtpMailer:
    mailer: mail.SmtpMailer = rt.cached(
        "notify:smtp", lambda: mail.SmtpMailer(rt.settings.notifications.email)
    )
    return mailer


def _gateway(rt: Runtime) -> SmsGateway:
    gateway: SmsGateway = rt.cached("notify:sms", lambda: SmsGateway(rt.settings.notifications.sms))
    return gateway


def _mark_sent(rt: Runtime, notification_id: int, sent: set[Channel], language: str) -> None:
    with unit_of_work(rt.sessions) as s:
        row = s.get(NotificationRow, notification_id)
        if row is not None:
            row.channels_sent = ",".join(sorted(c.value for c in sent))
            row.language = language


def _again_or_fail(
    rt: Runtime,
    claim: outbox.Claim,
    msg: _Pending,
    transient: dict[str, str],
    permanent: dict[str, str],
) -> str:
    """Retry what may pass; settle when nothing is left to retry."""
    n = rt.settings.notifications
    if transient and claim.attempts < n.max_attempts:
        error = _describe({**transient, **permanent})
        with unit_of_work(rt.sessions) as s:
            row = s.get(NotificationRow, msg.id)
            if row is not None:
                row.error = error[:1000]
        delay = outbox.retry_later(rt, claim, error)
        log.warning("notification %s will be retried in %s: %s", msg.id, delay, error)
        return f"retry in {delay}"
    failures = {**permanent, **transient}
    if not failures:
        return _settle(rt, claim, msg, "sent", None)
    state = "partial" if msg.sent else "failed"
    return _settle(rt, claim, msg, state, _describe(failures))


def _describe(problems: dict[str, str]) -> str:
    return "; ".join(f"{where}: {why}" for where, why in sorted(problems.items()))


def _settle(rt: Runtime, claim: outbox.Claim, msg: _Pending, state: str, error: str | None) -> str:
    """Final state, secrets blanked, outbox row closed: one transaction."""
    settings: Settings = rt.settings
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(NotificationRow, msg.id)
        if row is not None:
            row.state = state
            row.error = error[:1000] if error else None
            row.settled_at = now
            row.secrets = None
            if row.patron:
                row.patron_key = patron_keys(settings, row.patron)[0]
            if state in ("sent", "skipped"):
                row.patron = None  # staff only need the card when something failed
        if state in ("failed", "partial"):
            outbox.give_up(s, claim, now=now, error=error or state)
        else:
            outbox.complete(s, claim, now=now)
    if state in ("failed", "partial"):
        log.warning("notification %s %s: %s", msg.id, state, error)
    return state if not error else f"{state}: {error}"
