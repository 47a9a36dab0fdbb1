"""Telling the ILL partner with CheckInItem after a return: outbox work run by a real rq worker,
retried with backoff while the partner is unreachable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bridge.config import load_settings
from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.services.ill import accepting, callers, notices
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, OutboxRow
from bridge.storage.tables.ill import IllRequestRow
from bridge.web.app import create_app
from ils_adapters.ncip import CheckInItemRequest, NcipProblem, parse_request
from ils_adapters.ncip import requests as req
from ils_adapters.ncip.responses import (
    Problems,
    build_check_in_item_response,
    build_problem_response,
    parse_response,
)
from tests.ill import senders
from tests.ill.conftest import (
    PARTNER,
    PARTNER_SECRET,
    NcipPeer,
    assert_schema_valid,
    clear,
    ill_config,
    post_ncip,
    row_counts,
    work,
)
from tests.support.clock import Clock
from tests.support.db import both_databases
from tests.support.runtime import installed


def partner_answer(body: bytes) -> bytes:
    request = parse_request(body)
    assert isinstance(request, CheckInItemRequest)
    head = request.header.reversed() if request.header else None
    return build_check_in_item_response(head, item=request.item)


@dataclass
class Setup:
    rt: Runtime
    clock: Clock
    partner: NcipPeer

    def work(self) -> None:
        work(self.rt)

    def accepted(self, item: str = "ILL-ITEM-1") -> None:
        request = req.parse_request(
            req.build_accept_item(
                req.Header(PARTNER, "MAINLIB"),
                request=f"R-{item}",
                request_agency=PARTNER,
                user="P1",
                item=item,
                pickup_location="MAIN-LOCKER",
            )
        )
        assert isinstance(request, req.AcceptItemRequest)
        done = accepting.accept_item(self.rt, request, callers.Caller("secret", PARTNER))
        assert not isinstance(done, NcipProblem), done

    def returned(self, item: str = "ILL-ITEM-1") -> int | None:
        """What the returns worker does when the ILS took the item back."""
        with unit_of_work(self.rt.sessions) as s:
            return notices.on_checked_in(self.rt, s, item, self.clock.now)

    def loan(self) -> IllRequestRow:
        with unit_of_work(self.rt.sessions) as s:
            return s.scalars(select(IllRequestRow)).one()

    def outbox_row(self) -> OutboxRow:
        with unit_of_work(self.rt.sessions) as s:
            return s.scalars(select(OutboxRow).where(OutboxRow.kind == notices.OUTBOX_KIND)).one()

    def audit(self, kind: str) -> list[AuditEventRow]:
        with unit_of_work(self.rt.sessions) as s:
            return list(s.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind)))


@contextmanager
def make_setup(
    tmp_path: Path,
    engine: Engine,
    redis: Any,
    peer_factory: Callable[[Callable[[bytes], bytes]], NcipPeer],
) -> Iterator[Setup]:
    partner = peer_factory(partner_answer)
    clock = Clock()
    settings = load_settings(None, **ill_config(tmp_path, partner_url=partner.url))
    rt = Runtime.over(settings, engine, redis, clock)
    sync_banks(rt)
    with installed(rt):
        yield Setup(rt, clock, partner)


@pytest.fixture
def setup(
    tmp_path: Path,
    ill_engine: Engine,
    redis_conn: Any,
    peer_factory: Callable[[Callable[[bytes], bytes]], NcipPeer],
) -> Iterator[Setup]:
    clear(ill_engine)
    with make_setup(tmp_path, ill_engine, redis_conn, peer_factory) as made:
        yield made


@pytest.fixture
def setup_any_db(
    tmp_path: Path,
    db_engine: Engine,
    redis_conn: Any,
    peer_factory: Callable[[Callable[[bytes], bytes]], NcipPeer],
) -> Iterator[Setup]:
    """On SQLite and on PostgreSQL."""
    with make_setup(tmp_path, db_engine, redis_conn, peer_factory) as made:
        yield made


@both_databases
def test_a_returned_ill_item_reaches_its_partner_as_a_valid_check_in_item(
    setup_any_db: Setup,
) -> None:
    setup = setup_any_db
    setup.accepted()
    returned_at = setup.clock.now

    setup.returned()
    setup.work()

    [got] = setup.partner.received
    assert_schema_valid(got.body)
    sent = parse_request(got.body)
    assert isinstance(sent, CheckInItemRequest)
    assert (sent.item, sent.occurred_at) == ("ILL-ITEM-1", returned_at)
    assert sent.item_agency == PARTNER  # the item is the lending library's
    assert sent.header == req.Header("MAINLIB", PARTNER)
    assert got.headers.get("X-NCIP-Secret") == PARTNER_SECRET
    loan = setup.loan()
    assert (loan.state, loan.patron, loan.title) == ("closed", None, None)
    assert setup.outbox_row().state == "done"


def test_an_unreachable_partner_is_retried_with_backoff_until_it_answers(setup: Setup) -> None:
    setup.accepted()
    setup.partner.status = 503
    setup.returned()

    setup.work()

    waiting = setup.outbox_row()
    assert (waiting.state, waiting.attempts) == ("pending", 1)
    assert "503" in (waiting.last_error or "")
    assert waiting.next_attempt_at > setup.clock.now  # backoff, not a hot loop
    assert setup.loan().state == "returned"

    setup.partner.status = 200
    setup.clock.now += timedelta(seconds=5)
    assert outbox.sweep(setup.rt) == 1
    setup.work()

    assert len(setup.partner.received) == 2
    assert setup.loan().state == "closed"
    assert setup.outbox_row().state == "done"


def test_a_partner_that_refuses_puts_the_loan_on_the_staff_list(setup: Setup) -> None:
    setup.accepted()
    setup.partner.answer = lambda body: build_problem_response(
        "CheckInItem", (NcipProblem("Unknown Item", "never heard of it"),)
    )
    setup.returned()

    setup.work()

    assert setup.outbox_row().state == "failed"
    [note] = setup.audit("ill_partner_not_told")
    assert "Unknown Item" in note.detail["reason"]
    assert setup.loan().state == "returned"


def test_an_accept_item_resent_after_the_item_came_back_is_refused_and_holds_nothing(
    setup: Setup,
) -> None:
    setup.accepted()
    setup.returned()
    setup.work()
    assert setup.loan().state == "closed"
    client = create_app(setup.rt.settings, setup.rt).test_client()
    before = row_counts(setup.rt)

    again = post_ncip(
        client, senders.reshare_accept_item(request="R-ILL-ITEM-1", item="ILL-ITEM-1")
    )

    result = parse_response(again.data)
    assert isinstance(result, Problems)
    assert [(p.type, p.element) for p in result.problems] == [("Cannot Accept Item", "RequestId")]
    assert "came back" in (result.problems[0].detail or "")
    assert setup.loan().state == "closed"
    assert row_counts(setup.rt) == before  # no new loan, nothing held again


def test_a_folio_refusal_with_an_empty_problem_type_is_recorded_not_retried(
    setup: Setup,
) -> None:
    setup.accepted()
    setup.partner.answer = lambda body: senders.folio_refusal(
        "CheckInItem", "Item ILL-ITEM-1 is not checked out"
    )
    setup.returned()

    setup.work()

    row = setup.outbox_row()
    assert (row.state, row.attempts) == ("failed", 1)
    [note] = setup.audit("ill_partner_not_told")
    assert "refused" in note.detail["reason"]
    assert "is not checked out" in note.detail["reason"]
    assert len(setup.partner.received) == 1


def test_a_partner_without_an_endpoint_is_reported_instead_of_retried_forever(
    setup: Setup,
) -> None:
    setup.accepted()
    with unit_of_work(setup.rt.sessions) as s:
        s.execute(IllRequestRow.__table__.update().values(partner="UNCONFIGURED"))  # type: ignore[attr-defined]
    setup.returned()

    setup.work()

    assert setup.partner.received == []
    assert setup.outbox_row().state == "failed"
    [note] = setup.audit("ill_partner_not_told")
    assert "UNCONFIGURED" in note.detail["reason"]


def test_an_item_that_is_not_an_ill_loan_queues_nothing(setup: Setup) -> None:
    setup.accepted()

    assert setup.returned("LOCAL-BOOK") is None

    with unit_of_work(setup.rt.sessions) as s:
        assert s.scalars(select(OutboxRow)).all() == []
    assert setup.loan().state == "accepted"
