from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import pytest

from lockers.bank import Bank
from lockers.model import Compartment, Purpose, SizeClass
from tests.support.clock import Clock

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

BankFactory = Callable[..., Bank]


def build_bank(
    layout: Iterable[tuple[int, SizeClass, Purpose, int]], bank_id: str = "bank-1"
) -> Bank:
    """A bank from (number, size, purpose, height_cm) rows; return doors start return_free."""
    from lockers.states import CompartmentState

    compartments = [
        Compartment(
            bank_id=bank_id,
            number=number,
            size=size,
            purpose=purpose,
            height_cm=height,
            state=CompartmentState.RETURN_FREE
            if purpose is Purpose.RETURN
            else CompartmentState.FREE,
        )
        for number, size, purpose, height in layout
    ]
    return Bank(bank_id, compartments)


@pytest.fixture
def make_bank() -> BankFactory:
    return build_bank


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)
