"""A deposit: a returned item put into a return compartment, and its way to the ILS."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from lockers.events import StateChanged
from lockers.states import DepositState, check_deposit_transition


@dataclass(frozen=True)
class Deposit:
    """Recorded durably when the door closes, before anything else (docs/architecture.md, Return).

    ``deposited_at`` becomes the check-in's return date.
    """

    deposit_id: str
    bank_id: str
    compartment: int
    item_barcode: str
    deposited_at: datetime
    state: DepositState = DepositState.RECORDED


def advance(
    deposit: Deposit, to: DepositState, *, at: datetime, actor: str, reason: str
) -> tuple[Deposit, StateChanged]:
    """The deposit in state ``to`` and its audit event; raises ``IllegalTransition``."""
    check_deposit_transition(deposit.state, to)
    event = StateChanged(
        what="deposit",
        bank_id=deposit.bank_id,
        subject=deposit.deposit_id,
        compartment=deposit.compartment,
        from_state=deposit.state.value,
        to_state=to.value,
        at=at,
        actor=actor,
        reason=reason,
    )
    return dataclasses.replace(deposit, state=to), event
