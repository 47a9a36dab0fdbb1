"""Where a patron's email, phone and language come from: the ILS, asked at send time.

Nothing from here is stored: the job holds the contact in memory while it sends and drops it.
"""

from __future__ import annotations

from typing import Protocol

from bridge.notify.errors import TryAgainLater
from bridge.runtime import Runtime
from bridge.services.wiring import adapter_for
from ils_adapters.base import Contact, IlsRejected, IlsUnavailable


class ContactSource(Protocol):
    """The one thing notifications need of an ILS adapter."""

    def patron_contact(self, patron: str) -> Contact | None: ...


def contact_source(rt: Runtime, bank_id: str) -> ContactSource:
    """The bank's ILS adapter (the ``ils:<bank_id>`` part of the runtime)."""

    source: ContactSource = adapter_for(rt, bank_id)
    return source


def look_up(source: ContactSource, patron: str) -> Contact | None:
    """The patron's contact, or None when the ILS does not know the card.

    Raises:
        TryAgainLater: the ILS did not answer, or refused the lookup (login, permissions).
    """
    try:
        return source.patron_contact(patron)
    except IlsUnavailable as exc:
        raise TryAgainLater(f"the ILS did not answer the contact lookup: {exc}") from exc
    except IlsRejected as exc:
        raise TryAgainLater(f"the ILS refused the contact lookup: {exc}") from exc
