"""rq job sending offline loans to the ILS (``bridge.services.offline_loans``)."""

from __future__ import annotations

from bridge.runtime import current
from bridge.services import offline_loans


def send_offline_loan(kind: str, ref: str) -> str:
    """Sends one offline loan (outbox kind ``offline_checkout``, ref = its id). Returns the
    state it was left in, or "skipped" when another worker holds it, an earlier row of the
    same item is still open, or it is finished."""
    if kind != offline_loans.KIND:
        raise ValueError(f"send_offline_loan cannot work outbox kind {kind!r}")
    state = offline_loans.send_offline_loan(current(), int(ref))
    return state or "skipped"
