"""A pickup whose checkout reply is lost, over real TCP to the reference ACS.

The ACS acts on the checkout and then closes the connection instead of replying (its
``drop_replies`` fault). The pickup then asks the ILS what happened, by the rule the offline
sender uses too (``ils_adapters.base.lent_to``): the item on loan *to this patron*. Item
information alone says "on loan" for someone else's loan as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, RefusalKind, pickup_with_code
from sip2.acs.catalogue import ItemStatus
from sip2.acs.server import ReferenceACS
from tests.flows.conftest import load_door, messages, sim, state_of
from tests.support.acs import use_acs
from tests.support.clock import Clock
from tests.support.config import REPO
from tests.support.runtime import flow_config, make_runtime

CATALOGUE = REPO / "examples" / "catalogue.json"
ANA, CHLOE = "23000000000001", "23000000000003"
BOOK_1 = "39000000000001"  # Ana's hold at the main lobby


@pytest.fixture
def acs(clock: Clock) -> Iterator[ReferenceACS]:
    with ReferenceACS(CATALOGUE, behaviour="koha", clock=clock) as server:
        yield server


@pytest.fixture
def real_rt(
    tmp_path: Path, acs: ReferenceACS, sqlite_engine: Any, redis_conn: Any, clock: Clock
) -> Iterator[Runtime]:
    cfg = use_acs(flow_config(tmp_path), acs)
    rt = make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, clock, ils=None)
    yield rt
    rt.close()


def _loaded(rt: Runtime) -> tuple[int, str]:
    scanned = scan_item(rt, "main-lobby", BOOK_1, "staff")
    assert scanned.compartment is not None, scanned
    load_door(rt, scanned.compartment)
    return scanned.compartment, messages(rt)[-1].secrets["code"]


def test_a_lost_checkout_reply_that_lent_the_item_to_the_patron_opens_the_door(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    door, code = _loaded(real_rt)
    acs.faults.drop_replies = 1  # the ACS lends the item; its reply never arrives

    picked = pickup_with_code(real_rt, "main-lobby", code)

    assert picked.outcome is PickupOutcome.OPENED, picked
    assert sim(real_rt).is_open(door)
    assert [(c.patron, c.ok) for c in acs.ledger.checkouts(BOOK_1)] == [(ANA, True)]


def test_a_lost_checkout_reply_for_an_item_lent_to_someone_else_keeps_the_door_shut(
    real_rt: Runtime, acs: ReferenceACS
) -> None:
    door, code = _loaded(real_rt)
    # Meanwhile a desk lent the item to Chloé: the ACS refuses Ana's checkout, and that
    # refusal is the reply that gets lost.
    cat = acs.engine.catalogue
    item = cat.item(BOOK_1)
    assert item is not None
    cat.put(replace(item, status=ItemStatus.CHARGED, charged_to=CHLOE))
    acs.faults.drop_replies = 1

    picked = pickup_with_code(real_rt, "main-lobby", code)

    assert picked.outcome is PickupOutcome.REFUSED, picked
    [refusal] = picked.refused
    assert refusal.kind is RefusalKind.ON_LOAN_ELSEWHERE
    assert not sim(real_rt).is_open(door)
    assert state_of(real_rt, door) == "loaded"
    assert [c.patron for c in acs.ledger.checkouts(BOOK_1) if c.ok] == []
    assert cat.item(BOOK_1).charged_to == CHLOE  # type: ignore[union-attr]
