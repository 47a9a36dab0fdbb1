"""What a template gets to work with, built from the notification row and the settings."""

from __future__ import annotations

from typing import Any

from bridge.config import BankSettings, NotificationSettings
from bridge.notify.kinds import KNOWN_FACTS


def template_context(
    notifications: NotificationSettings,
    bank: BankSettings,
    facts: dict[str, Any],
    secrets: dict[str, Any] | None,
    *,
    qr_src: str | None = None,
) -> dict[str, Any]:
    """Every known fact is present (None when not given) so templates can test ``{% if %}``
    while misspelt names still fail loudly (StrictUndefined)."""
    secrets = secrets or {}
    context: dict[str, Any] = dict.fromkeys(KNOWN_FACTS)
    context.update(facts)
    context.update({k: v for k, v in secrets.items() if k != "qr_token"})
    titles = [str(t) for t in (context.get("titles") or [])]
    doors = [int(d) for d in (context.get("doors") or [])]
    context.update(
        titles=titles,
        doors=doors,
        show_door=bool(bank.show_door_number and doors),
        qr=bool(secrets.get("qr_token")),
        qr_src=qr_src if secrets.get("qr_token") else None,
        timezone=bank.timezone,
        facts=dict(facts),
        library={
            "name": notifications.library_name,
            "website": notifications.website,
            "logo_url": notifications.logo_url,
            "brand_color": notifications.brand_color,
        },
        bank={"id": bank.id, "name": bank.name, "address": bank.address, "hours": bank.hours},
    )
    return context
