"""rq jobs for returns. They take ids, look everything else up and never swallow errors."""

from __future__ import annotations

from bridge import outbox
from bridge.runtime import current
from bridge.services import returns


def checkin_deposit(kind: str, ref: str) -> str:
    """Checks one deposit in (outbox kind ``deposit_checkin``, ref = deposit id).

    Returns what happened, for rq's result: "skipped" when another worker holds the deposit,
    an earlier deposit of the same item is still open, or it is already finished.
    """
    rt = current()
    claim = outbox.claim(rt, kind, ref)
    if claim is None:
        return "skipped"
    state = returns.process_deposit(rt, claim)
    return state.value if state is not None else "already finished"


def purge_depositor_links() -> int:
    """Periodic: clears patron↔item links past their retention."""
    return returns.purge_depositor_links(current())
