"""rq jobs for inter-library loans. They take ids, look everything else up, never swallow errors."""

from __future__ import annotations

from bridge.infra import outbox
from bridge.runtime import current
from bridge.services.ill import notices


def notify_ill_checkin(kind: str, ref: str) -> str:
    """Tells the ILL partner that loan ``ref`` came back (outbox kind ``ill_checkin``)."""
    rt = current()
    claim = outbox.claim(rt, kind, ref)
    if claim is None:
        return "skipped"
    return notices.tell_partner(rt, claim)
