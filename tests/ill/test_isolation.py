"""Each partner's loans are its own: two ILL systems with the same RequestId, through the real
HTTP endpoint with each one's own credential; over-long values refused on SQLite and on
PostgreSQL; an AcceptItem re-sent after its loan ended."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from werkzeug.serving import make_server

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import TransitRow
from bridge.web.app import create_app
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CheckInItemResult,
    Problems,
    parse_response,
)
from tests.ill import senders
from tests.ill.conftest import (
    OTHER,
    OTHER_DN,
    OTHER_SECRET,
    PARTNER,
    PARTNER_SECRET,
    assert_schema_valid,
    ill_config,
    make_runtime,
    post_ncip,
    row_counts,
)
from tests.support.db import both_databases


def loans(rt: Runtime) -> list[tuple[str, str, str, str]]:
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(select(IllRequestRow).order_by(IllRequestRow.id))
        return [(r.partner, r.request_id, r.item, r.state) for r in rows]


def held(rt: Runtime) -> dict[str, str]:
    with unit_of_work(rt.sessions) as s:
        return {t.item_barcode: t.bank_id for t in s.scalars(select(TransitRow))}


def problems(body: bytes) -> list[tuple[str, str | None]]:
    result = parse_response(body)
    assert isinstance(result, Problems), result
    return [(p.type, p.element) for p in result.problems]


# --- two partners, one RequestId, over real HTTP -------------------------------------------


@pytest.fixture
def served(tmp_path: Path, db_engine: Engine, redis_conn: Any) -> Iterator[tuple[Runtime, str]]:
    """The app behind a real HTTP server, on SQLite and on PostgreSQL."""
    rt = make_runtime(load_settings(None, **ill_config(tmp_path)), db_engine, redis_conn)
    server = make_server("127.0.0.1", 0, create_app(rt.settings, rt), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rt, f"http://127.0.0.1:{server.server_port}/ncip"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        rt.close()


def send(url: str, body: bytes, secret: str) -> bytes:
    answer = requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/xml; charset=UTF-8", "X-NCIP-Secret": secret},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert_schema_valid(answer.content)
    return answer.content


@both_databases
def test_two_partners_using_the_same_request_id_each_get_their_own_loan(
    served: tuple[Runtime, str],
) -> None:
    rt, url = served
    from_reshare = senders.reshare_accept_item(request="77777", item="RS-0001")
    from_oclc = senders.oclc_accept_item(request="77777", item="OC-0001")

    first = parse_response(send(url, from_reshare, PARTNER_SECRET))
    second = parse_response(send(url, from_oclc, OTHER_SECRET))

    assert first == AcceptItemResult("77777", "RS-0001")
    assert second == AcceptItemResult("77777", "OC-0001")  # not refused for A's number
    assert loans(rt) == [
        (PARTNER, "77777", "RS-0001", "accepted"),
        (OTHER, "77777", "OC-0001", "accepted"),
    ]
    assert held(rt) == {"RS-0001": "main-lobby", "OC-0001": "main-lobby"}

    # B replaying A's message gets nothing of A's: no success, no second loan of A's item.
    replayed = send(url, from_reshare, OTHER_SECRET)
    assert problems(replayed) == [("Cannot Accept Item", "ItemId")]
    # Each partner's own repeat is still answered as before.
    assert parse_response(send(url, from_reshare, PARTNER_SECRET)) == first
    assert parse_response(send(url, from_oclc, OTHER_SECRET)) == second
    # B cannot close A's loan, even naming A's item and A's agency.
    closing = send(url, senders.relais_check_in(item="RS-0001"), OTHER_SECRET)
    assert problems(closing) == [("Unknown Item", "ItemId")]

    assert loans(rt) == [
        (PARTNER, "77777", "RS-0001", "accepted"),
        (OTHER, "77777", "OC-0001", "accepted"),
    ]
    assert held(rt) == {"RS-0001": "main-lobby", "OC-0001": "main-lobby"}


@both_databases
def test_two_partners_sending_the_same_request_id_at_once_each_get_one_loan(
    served: tuple[Runtime, str],
) -> None:
    rt, url = served
    # Both without an AgencyId on the RequestId, as OCLC sends it: only the partner differs.
    mine = senders.oclc_accept_item(request="55555", item="RS-55", agency=PARTNER)
    theirs = senders.oclc_accept_item(request="55555", item="OC-55", agency=OTHER)
    calls = [(mine, PARTNER_SECRET), (theirs, OTHER_SECRET)] * 4

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda call: parse_response(send(url, *call)), calls))

    for (body, _secret), answer in zip(calls, answers, strict=True):
        item = "RS-55" if body is mine else "OC-55"
        # The partner's own loan, or "retry": a copy of it is being processed right now.
        assert answer == AcceptItemResult("55555", item) or (
            isinstance(answer, Problems)
            and [p.type for p in answer.problems] == ["Temporary Processing Failure"]
        ), answer
    assert parse_response(send(url, mine, PARTNER_SECRET)) == AcceptItemResult("55555", "RS-55")
    assert parse_response(send(url, theirs, OTHER_SECRET)) == AcceptItemResult("55555", "OC-55")
    assert sorted(loans(rt)) == [
        (OTHER, "55555", "OC-55", "accepted"),
        (PARTNER, "55555", "RS-55", "accepted"),
    ]
    assert held(rt) == {"RS-55": "main-lobby", "OC-55": "main-lobby"}


def test_a_partner_authenticated_by_certificate_has_its_own_loans_too(
    client: FlaskClient, rt: Runtime
) -> None:
    post_ncip(client, senders.reshare_accept_item(request="R-1", item="RS-7"))
    headers = {
        "Content-Type": "application/xml",
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-S-DN": OTHER_DN,
    }

    answer = client.post(
        "/ncip", data=senders.oclc_accept_item(request="R-1", item="OC-7"), headers=headers
    )

    assert_schema_valid(answer.data)
    assert parse_response(answer.data) == AcceptItemResult("R-1", "OC-7")
    assert [(p, r) for p, r, _i, _s in loans(rt)] == [(PARTNER, "R-1"), (OTHER, "R-1")]


# --- lengths, on SQLite and PostgreSQL -----------------------------------------------------


@pytest.fixture
def any_db(tmp_path: Path, db_engine: Engine, redis_conn: Any) -> Iterator[tuple[Runtime, Any]]:
    rt = make_runtime(load_settings(None, **ill_config(tmp_path)), db_engine, redis_conn)
    yield rt, create_app(rt.settings, rt).test_client()
    rt.close()


LONG = "9" * 500

OVER_LONG = {
    "RequestId": senders.reshare_accept_item(request=LONG, item="RS-1"),
    "AgencyId": senders.reshare_accept_item(request="R-1", item="RS-1").replace(
        b"<ns1:AgencyId>RESHARE</ns1:AgencyId>\n      <ns1:RequestIdentifierValue>",
        f"<ns1:AgencyId>{LONG}</ns1:AgencyId><ns1:RequestIdentifierValue>".encode(),
    ),
    "UserId": senders.reshare_accept_item(request="R-1", item="RS-1", user=LONG),
    "ItemId": senders.oclc_accept_item(request="R-1", item=LONG),
}


@both_databases
def test_over_long_ids_get_a_problem_naming_the_element_and_change_nothing(
    any_db: tuple[Runtime, FlaskClient],
) -> None:
    rt, client = any_db
    before = row_counts(rt)

    for element, body in OVER_LONG.items():
        secret = OTHER_SECRET if b"ns2:" in body else PARTNER_SECRET
        answer = post_ncip(client, body, secret=secret)

        assert answer.status_code == 200, element  # never a 500 from the database
        result = parse_response(answer.data)
        assert isinstance(result, Problems) and result.service == "AcceptItem", element
        [problem] = result.problems
        assert (problem.type, problem.element) == ("Element Rule Violated", element)
        assert "characters" in (problem.detail or "")
    check_in = post_ncip(client, senders.relais_check_in(item=LONG))
    assert problems(check_in.data) == [("Unknown Item", "ItemId")]

    assert row_counts(rt) == before


@both_databases
def test_ids_at_the_length_limit_are_kept_whole(any_db: tuple[Runtime, FlaskClient]) -> None:
    rt, client = any_db
    request, item, user = "R" * 120, "I" * 64, "U" * 64

    answer = post_ncip(client, senders.reshare_accept_item(request=request, item=item, user=user))

    assert parse_response(answer.data) == AcceptItemResult(request, item)
    assert loans(rt) == [(PARTNER, request, item, "accepted")]
    closed = post_ncip(client, senders.relais_check_in(item=item))
    assert isinstance(parse_response(closed.data), CheckInItemResult)


# --- an AcceptItem re-sent after its loan ended ---------------------------------------------


def test_an_accept_item_resent_after_the_partner_cancelled_it_is_refused_not_faked(
    client: FlaskClient, rt: Runtime
) -> None:
    accept = senders.reshare_accept_item(request="R-9", item="RS-9")
    post_ncip(client, accept)
    post_ncip(client, senders.relais_check_in(item="RS-9"))  # the partner cancels
    assert held(rt) == {}

    again = post_ncip(client, accept)

    result = parse_response(again.data)
    assert isinstance(result, Problems)
    [problem] = result.problems
    assert (problem.type, problem.element) == ("Cannot Accept Item", "RequestId")
    assert "new RequestId" in (problem.detail or "")
    assert loans(rt) == [(PARTNER, "R-9", "RS-9", "cancelled")]
    assert held(rt) == {}  # and nothing pretends to be held

    # A new RequestId for the same item is a new loan with its compartment held.
    renewed = post_ncip(client, senders.reshare_accept_item(request="R-10", item="RS-9"))
    assert parse_response(renewed.data) == AcceptItemResult("R-10", "RS-9")
    assert held(rt) == {"RS-9": "main-lobby"}
