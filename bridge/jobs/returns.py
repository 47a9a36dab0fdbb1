"""rq jobs for returns. They take ids, look everything else up and never swallow errors."""

from __future__ import annotations

from bridge.runtime import current
from bridge.services.deposits import KIND
from bridge.services.returns import checkin, recording


def checkin_deposit(kind: str, ref: str) -> str:
    """Checks one deposit in (outbox kind ``deposit_checkin``, ref = deposit id).

    Claiming the outbox row and starting the attempt are one commit
    (:func:`bridge.services.returns.checkin.check_in_deposit`). Returns what happened: "skipped"
    when another worker holds the deposit, an earlier deposit of the same item is still open, or
    it is already finished.
    """
    if kind != KIND:
        raise ValueError(f"checkin_deposit cannot work outbox kind {kind!r}")
    state = checkin.check_in_deposit(current(), int(ref))
    return state.value if state is not None else "skipped"


def purge_depositor_links() -> int:
    """Periodic: clears patron↔item links past their retention."""
    return recording.purge_depositor_links(current())
