"""Telling staff about alerts: e-mail to ``alerts.email_to`` and a signed JSON webhook.

Each delivery (event x channel x recipient) is recorded on the alert once it succeeded, so a
failed one is tried again on the next check and none is sent twice. Nothing is sent while a
transaction is open. A clearance goes only where the raise went.

Webhook signature: ``X-Lockerbridge-Signature: sha256=<hex>``, the HMAC-SHA256 with
``alerts.webhook_secret`` of ``<X-Lockerbridge-Timestamp>.<body>``, so a receiver can refuse
a body that was changed or replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from sqlalchemy import or_, select

from bridge.notify.errors import InvalidAddress, TryAgainLater
from bridge.notify.mail import SmtpMailer
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.alerts import AlertRow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lockerbridge-Signature"
TIMESTAMP_HEADER = "X-Lockerbridge-Timestamp"


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    event: str  # "raised" | "cleared"
    channel: str  # "webhook" | "email:<address>"
    payload: dict[str, Any]

    @property
    def mark(self) -> str:
        return f"{self.event}:{self.channel}"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _payload(rt: Runtime, row: AlertRow, event: str) -> dict[str, Any]:
    bank = None
    if row.bank_id:
        try:
            bank = {"id": row.bank_id, "name": rt.settings.bank(row.bank_id).name}
        except KeyError:
            bank = {"id": row.bank_id, "name": row.bank_id}
    verb = "Cleared" if event == "cleared" else row.severity.capitalize()
    return {
        "event": event,
        "alert": row.id,
        "rule": row.rule,
        "severity": row.severity,
        "bank": bank,
        "compartment": row.compartment,
        "summary": row.summary,
        "raised_at": row.raised_at.isoformat(),
        "cleared_at": row.cleared_at.isoformat() if row.cleared_at else None,
        # Chat tools (Slack, Mattermost, Teams workflows) show this field as the message.
        "text": f"[{verb}] {row.summary}",
    }


def pending(rt: Runtime) -> list[Delivery]:
    cfg = rt.settings.alerts
    channels = [f"email:{a}" for a in cfg.email_to]
    if cfg.webhook_url:
        channels.append("webhook")
    if not channels:
        return []
    now = rt.clock()
    out = []
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(
            select(AlertRow)
            .where(
                or_(AlertRow.cleared_at.is_(None), AlertRow.cleared_at >= now - timedelta(days=1))
            )
            .order_by(AlertRow.id)
        )
        for row in rows:
            sent = row.sent or {}
            for channel in channels:
                raise_known = f"raised:{channel}" in sent
                if not raise_known and (
                    row.cleared_at is None or now - row.raised_at < timedelta(days=1)
                ):
                    out.append(Delivery(row.id, "raised", channel, _payload(rt, row, "raised")))
                    raise_known = True
                # A clearance goes only where the raise went (or is going, just above).
                if row.cleared_at is not None and raise_known and f"cleared:{channel}" not in sent:
                    out.append(Delivery(row.id, "cleared", channel, _payload(rt, row, "cleared")))
    return out


def _mail(rt: Runtime, d: Delivery, to: str) -> EmailMessage:
    sender = rt.settings.notifications.email.sender
    p = d.payload
    mail = EmailMessage()
    mail["Subject"] = f"Lockers: {p['text']}"
    mail["From"] = formataddr((f"{rt.settings.notifications.library_name} lockers", sender))
    mail["To"] = to
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"
    lines = [p["summary"], ""]
    if p["bank"]:
        lines.append(f"Locker bank: {p['bank']['name']}")
    if p["compartment"]:
        lines.append(f"Door: {p['compartment']}")
    lines.append(f"Raised: {p['raised_at']}")
    if p["cleared_at"]:
        lines.append(f"Cleared: {p['cleared_at']} (the condition has ended)")
    lines += ["", "Open alerts are listed on the staff work list."]
    mail.set_content("\n".join(lines))
    return mail


def _send(rt: Runtime, d: Delivery) -> None:
    cfg = rt.settings.alerts
    if d.channel == "webhook":
        assert cfg.webhook_url and cfg.webhook_secret  # the settings require both together
        body = json.dumps(d.payload, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        # Imported here: the web process lists alerts through this package and would carry
        # requests and urllib3 (about 4 MiB resident) for a webhook only workers send.
        import requests

        resp = requests.post(
            cfg.webhook_url,
            data=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: sign(cfg.webhook_secret, stamp, body),
            },
            timeout=cfg.webhook_timeout_seconds,
        )
        resp.raise_for_status()
    else:
        to = d.channel.removeprefix("email:")
        SmtpMailer(rt.settings.notifications.email).send(_mail(rt, d, to), to)


def deliver_pending(rt: Runtime) -> int:
    done: dict[int, list[str]] = {}
    errors: dict[int, str] = {}
    for d in pending(rt):
        try:
            _send(rt, d)
        except (TryAgainLater, InvalidAddress, OSError) as exc:  # requests' errors are OSErrors
            log.warning(
                "alert %d (%s) not delivered to %s: %s", d.alert_id, d.event, d.channel, exc
            )
            errors[d.alert_id] = f"{d.channel}: {exc}"[:300]
            continue
        done.setdefault(d.alert_id, []).append(d.mark)
    if done or errors:
        stamp = rt.clock().isoformat()
        with unit_of_work(rt.sessions) as s:
            for row in s.scalars(select(AlertRow).where(AlertRow.id.in_({*done, *errors}))):
                # A new dict: SQLAlchemy sees a JSON column change only on assignment.
                row.sent = {**(row.sent or {}), **{m: stamp for m in done.get(row.id, [])}}
                row.last_error = errors.get(row.id)
    return sum(len(v) for v in done.values())
