"""An equipment loan whose checkout reply is lost, over real TCP to the reference ACS.

The ACS acts on the checkout and then closes the connection instead of replying (its
``drop_replies`` fault). The kiosk then asks the ILS what happened, as a pickup does
(``ils_adapters.base.lent_to``: item information, then the patron's charged items).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.equipment import (
    BorrowOutcome,
    BorrowRefusal,
    borrow_equipment,
    stock_equipment,
)
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.lockers import EquipmentRow
from sip2.acs.catalogue import Item, ItemStatus
from sip2.acs.modes import preset
from sip2.acs.server import ReferenceACS
from tests.flows.conftest import load_door, sim, state_of
from tests.support.acs import use_acs
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"
ANA, ANA_PIN, CHLOE = "23000000000001", "1234", "23000000000003"
LAPTOP = "39000000000017"  # Laptop 01, no fee
HOTSPOT = "39000000000020"  # Hotspot 01, a 2.00 charge to accept
DOOR = 15


@pytest.fixture
def acs(request: pytest.FixtureRequest, clock: Clock) -> Iterator[ReferenceACS]:
    modes = preset(getattr(request, "param", "plain"))
    with ReferenceACS(CATALOGUE, behaviour="koha", clock=clock, modes=modes) as server:
        yield server


@pytest.fixture
def real_rt(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> Iterator[Runtime]:
    cfg = use_acs(
        flow_config(
            tmp_path,
            equipment=[{"name": "laptop", "label": "Laptop", "max_per_patron": 2}],
        ),
        acs,
    )
    rt = make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, clock, ils=None)
    yield rt
    rt.close()


def _stocked(rt: Runtime, item: str) -> None:
    assert stock_equipment(rt, "main-lobby", DOOR, item, "laptop", "staff") == DOOR
    load_door(rt, DOOR)


def _device(rt: Runtime, item: str) -> tuple[str, int | None]:
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(EquipmentRow).where(EquipmentRow.item_barcode == item)).one()
        return row.state, row.compartment


def _audits(rt: Runtime, kind: str) -> int:
    with unit_of_work(rt.sessions) as s:
        return len(s.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind)).all())


def test_a_lost_reply_that_lent_the_device_to_the_patron_opens_the_door_once(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    _stocked(real_rt, LAPTOP)
    acs.faults.drop_replies = 1  # the ACS lends the laptop; its reply never arrives

    got = borrow_equipment(real_rt, "main-lobby", ANA, ANA_PIN, "laptop")

    assert got.outcome is BorrowOutcome.OPENED, got
    assert got.compartment == DOOR and sim(real_rt).is_open(DOOR)
    assert got.due is not None  # from item information: the ILS's own due date
    assert [(c.patron, c.ok) for c in acs.ledger.checkouts(LAPTOP)] == [(ANA, True)]
    assert _device(real_rt, LAPTOP) == ("on_loan", None)
    assert _audits(real_rt, "equipment_lent") == 1
    sim(real_rt).take_item(DOOR)
    sim(real_rt).close_door(DOOR)
    assert state_of(real_rt, DOOR) == "free"
    # Nothing left to lend or to resume: a second try neither opens nor checks out again.
    again = borrow_equipment(real_rt, "main-lobby", ANA, ANA_PIN, "laptop")
    assert again.outcome is BorrowOutcome.NONE_AVAILABLE
    assert len(acs.ledger.checkouts(LAPTOP)) == 1


@pytest.mark.parametrize("acs", ["paged-lists"], indirect=True)
def test_a_lost_reply_is_settled_for_a_patron_whose_loans_fill_several_pages(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    # The server sends 10 charged items per 64; Ana has 13 items out before the laptop.
    cat = acs.engine.catalogue
    with acs.engine.lock:
        for n in range(12):
            cat.put(
                Item(
                    f"BOOK{n:02d}",
                    "Book",
                    "MAIN",
                    "MAIN",
                    status=ItemStatus.CHARGED,
                    charged_to=ANA,
                )
            )
        cat.items[LAPTOP] = cat.items.pop(LAPTOP)  # listed after the books once lent
    _stocked(real_rt, LAPTOP)
    acs.faults.drop_replies = 1

    got = borrow_equipment(real_rt, "main-lobby", ANA, ANA_PIN, "laptop")

    assert got.outcome is BorrowOutcome.OPENED, got
    assert sim(real_rt).is_open(DOOR)
    assert [i.barcode for i in cat.loans_of(ANA)].index(LAPTOP) == 13  # on the second page
    assert _device(real_rt, LAPTOP) == ("on_loan", None)


def test_a_lost_reply_for_a_device_lent_to_someone_else_keeps_the_door_shut(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    _stocked(real_rt, LAPTOP)
    # A desk lent the laptop to Chloé meanwhile: the ACS refuses Ana's checkout, and that
    # refusal is the reply that gets lost.
    cat = acs.engine.catalogue
    laptop = cat.item(LAPTOP)
    assert laptop is not None
    cat.put(replace(laptop, status=ItemStatus.CHARGED, charged_to=CHLOE))
    acs.faults.drop_replies = 1

    got = borrow_equipment(real_rt, "main-lobby", ANA, ANA_PIN, "laptop")

    assert got.outcome is BorrowOutcome.REFUSED, got
    assert got.refusal is BorrowRefusal.ON_LOAN_ELSEWHERE
    assert not sim(real_rt).is_open(DOOR)
    assert state_of(real_rt, DOOR) == "loaded"
    assert _device(real_rt, LAPTOP) == ("available", DOOR)
    assert [c.patron for c in acs.ledger.checkouts(LAPTOP) if c.ok] == []
    assert cat.item(LAPTOP).charged_to == CHLOE  # type: ignore[union-attr]
    assert _audits(real_rt, "borrow_refused") == 1


def test_a_lost_reply_that_lent_nothing_leaves_the_device_in_stock(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    # The hotspot's charge was not accepted: the ACS refuses, and the refusal is lost.
    _stocked(real_rt, HOTSPOT)
    acs.faults.drop_replies = 1

    got = borrow_equipment(real_rt, "main-lobby", ANA, ANA_PIN, "laptop")

    assert got.outcome is BorrowOutcome.ILS_UNAVAILABLE, got
    assert not sim(real_rt).is_open(DOOR)
    assert _device(real_rt, HOTSPOT) == ("available", DOOR)
    assert [c.patron for c in acs.ledger.checkouts(HOTSPOT) if c.ok] == []
    # Asked again, the kiosk asks for the charge as usual.
    again = borrow_equipment(real_rt, "main-lobby", ANA, ANA_PIN, "laptop")
    assert again.outcome is BorrowOutcome.FEE_NEEDS_ACKNOWLEDGEMENT
