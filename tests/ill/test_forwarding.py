"""AcceptItem passed on to the ILS's NCIP responder (a local HTTP server playing the ILS)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import TransitRow
from bridge.web.app import create_app
from ils_adapters.ncip import AcceptItemRequest, NcipProblem, parse_request, parse_response
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    Problems,
    build_accept_item_response,
    build_problem_response,
)
from tests.ill import senders
from tests.ill.conftest import (
    ILS_SECRET,
    NcipPeer,
    assert_schema_valid,
    clear,
    ill_config,
    make_runtime,
    post_ncip,
)
from tests.ill.test_endpoint import accept


def ils_answer(item: str = "TMP-77") -> Callable[[bytes], bytes]:
    """The ILS creates a temporary item (with its own barcode) and a hold."""

    def answer(body: bytes) -> bytes:
        request = parse_request(body)
        assert isinstance(request, AcceptItemRequest)
        head = request.header.reversed() if request.header else None
        return build_accept_item_response(
            head, request=request.request, request_agency=request.request_agency, item=item
        )

    return answer


@pytest.fixture
def forwarding(
    tmp_path: Path,
    ill_engine: Engine,
    redis_conn: Any,
    peer_factory: Callable[[Callable[[bytes], bytes]], NcipPeer],
) -> Iterator[tuple[Runtime, FlaskClient, NcipPeer]]:
    ils = peer_factory(ils_answer())
    cfg = ill_config(tmp_path)
    cfg["ils"][0]["ncip"] = {
        "url": ils.url,
        "shared_secret": ILS_SECRET,
        "from_agency": "LOCKERS",
        "to_agency": "KOHA",
    }
    cfg["ils"][0]["timeout_seconds"] = 0.5
    clear(ill_engine)
    rt = make_runtime(load_settings(None, **cfg), ill_engine, redis_conn)
    app = create_app(rt.settings, rt)
    yield rt, app.test_client(), ils
    rt.close()


def rows(rt: Runtime) -> list[tuple[str, str, str]]:
    with unit_of_work(rt.sessions) as s:
        return [(r.state, r.item, r.ils_item) for r in s.scalars(select(IllRequestRow))]


def transits(rt: Runtime) -> list[str]:
    with unit_of_work(rt.sessions) as s:
        return list(s.scalars(select(TransitRow.item_barcode)))


def test_the_ils_gets_a_schema_valid_accept_item_for_the_banks_own_branch(
    forwarding: tuple[Runtime, FlaskClient, NcipPeer],
) -> None:
    rt, client, ils = forwarding

    answer = post_ncip(client, accept(pickup_location="FAIRCHILD"))  # routed to main-lobby

    [got] = ils.received
    assert_schema_valid(got.body)
    sent = parse_request(got.body)
    assert isinstance(sent, AcceptItemRequest)
    assert (sent.pickup_location, sent.user, sent.item, sent.request) == (
        "MAIN-LOCKER",
        "23000000000001",
        "ILL-ITEM-1",
        "ILL-1",
    )
    assert sent.header is not None and sent.header.to_agency == "KOHA"
    result = parse_response_ok(answer.data)
    assert result.item == "TMP-77"  # the barcode the ILS gave its temporary item
    assert rows(rt) == [("accepted", "ILL-ITEM-1", "TMP-77")]
    assert transits(rt) == ["TMP-77"]


def parse_response_ok(body: bytes) -> AcceptItemResult:
    result = parse_response(body)
    assert isinstance(result, AcceptItemResult), result
    return result


def test_when_the_ils_is_down_the_partner_is_told_to_retry_and_nothing_is_kept(
    forwarding: tuple[Runtime, FlaskClient, NcipPeer],
) -> None:
    rt, client, ils = forwarding
    ils.status = 503

    answer = post_ncip(client, accept())

    result = parse_response(answer.data)
    assert isinstance(result, Problems)
    assert result.problems[0].type == "Temporary Processing Failure"
    assert rows(rt) == [] and transits(rt) == []

    ils.status = 200
    assert parse_response_ok(post_ncip(client, accept()).data).item == "TMP-77"
    assert rows(rt) == [("accepted", "ILL-ITEM-1", "TMP-77")]


def test_a_problem_from_the_ils_is_passed_on_and_nothing_is_kept(
    forwarding: tuple[Runtime, FlaskClient, NcipPeer],
) -> None:
    rt, client, ils = forwarding
    ils.answer = lambda body: build_problem_response(
        "AcceptItem", (NcipProblem("Unknown User", "no such patron", "UserId", "23000000000001"),)
    )

    answer = post_ncip(client, accept())

    result = parse_response(answer.data)
    assert isinstance(result, Problems)
    assert [(p.type, p.element) for p in result.problems] == [("Unknown User", "UserId")]
    assert rows(rt) == [] and transits(rt) == []


def test_a_folio_refusal_with_an_empty_problem_type_reaches_the_partner_as_a_refusal(
    forwarding: tuple[Runtime, FlaskClient, NcipPeer],
) -> None:
    rt, client, ils = forwarding
    ils.answer = lambda body: senders.folio_refusal(
        "AcceptItem", "User with barcode 23000000000001 not found"
    )

    answer = post_ncip(client, accept())

    result = parse_response(answer.data)
    assert isinstance(result, Problems)
    [problem] = result.problems
    assert problem.type == "Cannot Accept Item"  # not "Temporary Processing Failure"
    assert "User with barcode 23000000000001 not found" in (problem.detail or "")
    assert rows(rt) == [] and transits(rt) == []


def test_an_ils_naming_the_item_with_an_over_long_id_is_refused_to_the_partner_and_kept_for_staff(
    forwarding: tuple[Runtime, FlaskClient, NcipPeer],
) -> None:
    rt, client, ils = forwarding
    ils.answer = ils_answer(item="T" * 65)

    answer = post_ncip(client, accept())

    result = parse_response(answer.data)
    assert isinstance(result, Problems)
    assert [p.type for p in result.problems] == ["Cannot Accept Item"]
    assert "64 characters" in (result.problems[0].detail or "")
    assert rows(rt) == [("forwarding", "ILL-ITEM-1", "ILL-ITEM-1")] and transits(rt) == []
    with unit_of_work(rt.sessions) as s:
        [note] = s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "ill_needs_staff"))
    assert "64 characters" in note.detail["reason"]


def test_a_lost_ils_reply_keeps_the_request_so_the_partners_retry_forwards_it_again(
    forwarding: tuple[Runtime, FlaskClient, NcipPeer],
) -> None:
    rt, client, ils = forwarding
    slow = ils_answer()

    def too_late(body: bytes) -> bytes:
        time.sleep(1.0)  # over the 0.5 s timeout: the ILS may or may not have applied it
        return slow(body)

    ils.answer = too_late
    first = post_ncip(client, accept())
    lost = parse_response(first.data)
    assert isinstance(lost, Problems)
    assert lost.problems[0].type == "Temporary Processing Failure"
    assert rows(rt) == [("forwarding", "ILL-ITEM-1", "ILL-ITEM-1")]
    assert transits(rt) == []  # nothing is held until the ILS is known to have the item

    ils.answer = slow
    retry = post_ncip(client, accept())

    assert parse_response_ok(retry.data).item == "TMP-77"
    assert len(ils.received) == 2
    assert rows(rt) == [("accepted", "ILL-ITEM-1", "TMP-77")]
    assert transits(rt) == ["TMP-77"]
