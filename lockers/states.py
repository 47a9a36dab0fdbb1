"""The compartment and deposit state machines (docs/architecture.md, Compartment and deposit
states).

The tables below are the whole truth about which transitions exist; ``check_transition``
applies them. Nothing else in the package decides legality.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from lockers.errors import IllegalTransition


class CompartmentState(enum.StrEnum):
    FREE = "free"
    RESERVED = "reserved"
    LOADED = "loaded"
    PICKED_UP = "picked_up"
    EXPIRED = "expired"
    STAFF_REMOVE = "staff_remove"
    RETURN_FREE = "return_free"
    RETURN_OCCUPIED = "return_occupied"
    EMPTIED_BY_STAFF = "emptied_by_staff"
    OUT_OF_SERVICE = "out_of_service"


class DepositState(enum.StrEnum):
    RECORDED = "recorded"
    CHECKING_IN = "checking_in"
    WAITING_FOR_ILS = "waiting_for_ils"
    CHECKED_IN = "checked_in"
    NEEDS_STAFF = "needs_staff"


_C = CompartmentState
_D = DepositState

# Where an out-of-service compartment may go back to; which one is chosen by
# ``lockers.bank.Bank.return_to_service`` from what the compartment holds.
_RESTORABLE = frozenset(
    {
        _C.FREE,
        _C.RESERVED,
        _C.LOADED,
        _C.EXPIRED,
        _C.STAFF_REMOVE,
        _C.RETURN_FREE,
        _C.RETURN_OCCUPIED,
    }
)

COMPARTMENT_TRANSITIONS: Mapping[CompartmentState, frozenset[CompartmentState]] = {
    _C.FREE: frozenset({_C.RESERVED, _C.OUT_OF_SERVICE}),
    _C.RESERVED: frozenset({_C.LOADED, _C.FREE, _C.OUT_OF_SERVICE}),
    _C.LOADED: frozenset({_C.PICKED_UP, _C.EXPIRED, _C.OUT_OF_SERVICE}),
    _C.PICKED_UP: frozenset({_C.FREE, _C.OUT_OF_SERVICE}),
    _C.EXPIRED: frozenset({_C.STAFF_REMOVE, _C.OUT_OF_SERVICE}),
    _C.STAFF_REMOVE: frozenset({_C.FREE, _C.OUT_OF_SERVICE}),
    _C.RETURN_FREE: frozenset({_C.RETURN_OCCUPIED, _C.OUT_OF_SERVICE}),
    _C.RETURN_OCCUPIED: frozenset({_C.EMPTIED_BY_STAFF, _C.OUT_OF_SERVICE}),
    _C.EMPTIED_BY_STAFF: frozenset({_C.RETURN_FREE, _C.OUT_OF_SERVICE}),
    _C.OUT_OF_SERVICE: _RESTORABLE,
}

# Pickup and equipment doors run the hold-shelf cycle; return doors the deposit cycle.
PICKUP_CYCLE = frozenset(
    {_C.FREE, _C.RESERVED, _C.LOADED, _C.PICKED_UP, _C.EXPIRED, _C.STAFF_REMOVE, _C.OUT_OF_SERVICE}
)
RETURN_CYCLE = frozenset(
    {_C.RETURN_FREE, _C.RETURN_OCCUPIED, _C.EMPTIED_BY_STAFF, _C.OUT_OF_SERVICE}
)

# What the occupancy sensor should read with the door shut; None: no expectation.
EXPECTED_OCCUPANCY: Mapping[CompartmentState, bool | None] = {
    _C.FREE: False,
    _C.RESERVED: False,
    _C.LOADED: True,
    _C.PICKED_UP: False,
    _C.EXPIRED: True,
    _C.STAFF_REMOVE: True,
    _C.RETURN_FREE: False,
    _C.RETURN_OCCUPIED: True,
    _C.EMPTIED_BY_STAFF: False,
    _C.OUT_OF_SERVICE: None,
}

DEPOSIT_TRANSITIONS: Mapping[DepositState, frozenset[DepositState]] = {
    _D.RECORDED: frozenset({_D.CHECKING_IN, _D.WAITING_FOR_ILS}),
    _D.CHECKING_IN: frozenset({_D.CHECKED_IN, _D.NEEDS_STAFF, _D.WAITING_FOR_ILS}),
    _D.WAITING_FOR_ILS: frozenset({_D.CHECKING_IN}),
    # Every deposit ends in exactly one of these two (docs/architecture.md).
    _D.CHECKED_IN: frozenset(),
    _D.NEEDS_STAFF: frozenset(),
}


def check_compartment_transition(from_state: CompartmentState, to_state: CompartmentState) -> None:
    """Raise ``IllegalTransition`` unless the compartment table allows ``from -> to``."""
    if to_state not in COMPARTMENT_TRANSITIONS[from_state]:
        raise IllegalTransition("compartment", from_state.value, to_state.value)


def check_deposit_transition(from_state: DepositState, to_state: DepositState) -> None:
    """Raise ``IllegalTransition`` unless the deposit table allows ``from -> to``."""
    if to_state not in DEPOSIT_TRANSITIONS[from_state]:
        raise IllegalTransition("deposit", from_state.value, to_state.value)
