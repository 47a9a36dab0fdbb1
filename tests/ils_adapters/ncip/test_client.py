from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown
from ils_adapters.ncip import requests as req
from ils_adapters.ncip.client import NcipClient
from ils_adapters.ncip.errors import NcipMalformed, NcipRejected
from ils_adapters.ncip.responder import AcceptItemDone, CheckInItemDone, handle
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CheckInItemResult,
    NcipProblem,
    build_problem_response,
)
from tests.ils_adapters.httpfake import Answer, FakeHttp, Seen, serve
from tests.ils_adapters.ncip.shared import SAMPLES, assert_valid, need_shared

HEADER = req.Header("LOCKERBRIDGE", "ILS")
DEPOSIT = datetime(2024, 5, 6, 14, 5, 9, tzinfo=UTC)


class Library:
    """Our own responder core, standing in for a remote NCIP server."""

    def __init__(self) -> None:
        self.checked_in: list[req.CheckInItemRequest] = []

    def accept_item(self, request: req.AcceptItemRequest) -> AcceptItemDone | NcipProblem:
        return AcceptItemDone(item=f"TMP-{request.request}")

    def check_in_item(self, request: req.CheckInItemRequest) -> CheckInItemDone | NcipProblem:
        self.checked_in.append(request)
        return CheckInItemDone(user="P1")

    def lookup_version(self) -> tuple[str, ...]:
        return ("2.02",)


@pytest.fixture
def library() -> Library:
    return Library()


@pytest.fixture
def server(library: Library) -> Iterator[FakeHttp]:
    with serve(lambda seen: Answer(200, handle(seen.body, library))) as fake:
        yield fake
    for seen in fake.seen:  # every request the client emitted is valid NCIP
        assert_valid(seen.body)


def _client(url: str, **kwargs: object) -> NcipClient:
    return NcipClient(url + "/ncip", HEADER, timeout=(1.0, 1.0), **kwargs)  # type: ignore[arg-type]


def test_a_check_in_is_posted_with_the_deposit_time_and_confirmed(
    server: FakeHttp, library: Library
) -> None:
    result = _client(server.url).check_in_item(item="I1", occurred_at=DEPOSIT)

    assert result == CheckInItemResult("I1", "P1")
    assert library.checked_in[0].occurred_at == DEPOSIT
    assert server.seen[0].method == "POST" and server.seen[0].path == "/ncip"


def test_a_check_in_names_the_items_agency(server: FakeHttp, library: Library) -> None:
    _client(server.url).check_in_item(item="I1", item_agency="LENDER")

    assert library.checked_in[0].item_agency == "LENDER"


def test_lookup_version_reads_the_versions_answered_in_the_discovery_form(
    server: FakeHttp,
) -> None:
    assert _client(server.url).lookup_version().versions == ("2.02",)


def test_a_folio_refusal_with_an_empty_problem_type_is_a_rejection_with_its_detail() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<ns1:NCIPMessage xmlns:ns1="http://www.niso.org/2008/ncip" \
ns1:version="http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"><ns1:CheckInItemResponse>\
<ns1:Problem><ns1:ProblemType/><ns1:ProblemDetail>Item I1 is not checked out</ns1:ProblemDetail>\
</ns1:Problem></ns1:CheckInItemResponse></ns1:NCIPMessage>"""
    with serve(lambda _s: Answer(200, body)) as fake, pytest.raises(NcipRejected) as caught:
        _client(fake.url).check_in_item(item="I1")

    assert caught.value.screen_message == "Item I1 is not checked out"


def test_accept_item_returns_the_item_the_ils_created(server: FakeHttp) -> None:
    result = _client(server.url).accept_item(
        request="ILL-1", user="P1", item=None, pickup_location="LOCKER1", title="T"
    )

    assert result == AcceptItemResult("ILL-1", "TMP-ILL-1")


def test_configured_headers_such_as_a_shared_secret_are_sent(server: FakeHttp) -> None:
    _client(server.url, headers={"X-NCIP-Secret": "abc"}).lookup_version()

    assert server.seen[0].headers["X-NCIP-Secret"] == "abc"


def test_an_unsupported_service_is_a_rejection_not_a_retry(server: FakeHttp) -> None:
    with pytest.raises(NcipRejected) as caught:
        _client(server.url).renew_item(user="P1", item="I1")

    assert caught.value.problem_types == ("Unsupported Service",)
    assert isinstance(caught.value, IlsRejected)


def test_a_problem_sample_from_a_real_responder_becomes_a_rejection() -> None:
    need_shared()
    body = (SAMPLES / "xc-toolkit" / "RequestItemResponseSample1.xml").read_bytes()
    with serve(lambda _s: Answer(200, body)) as fake, pytest.raises(NcipRejected) as caught:
        _client(fake.url).request_item(user="P1", item="I1")

    assert (
        caught.value.screen_message == "User left their love letters at the Law Library Circ Desk"
    )


def test_a_temporary_processing_failure_means_retry_later() -> None:
    body = build_problem_response("CheckInItem", (NcipProblem("Temporary Processing Failure"),))
    with serve(lambda _s: Answer(200, body)) as fake, pytest.raises(IlsUnavailable):
        _client(fake.url).check_in_item(item="I1")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_error_means_the_ils_is_unavailable(status: int) -> None:
    with serve(lambda _s: Answer(status)) as fake, pytest.raises(IlsUnavailable):
        _client(fake.url).check_in_item(item="I1")


def test_a_server_error_during_a_check_in_leaves_the_outcome_unknown() -> None:
    with serve(lambda _s: Answer(500)) as fake, pytest.raises(OutcomeUnknown):
        _client(fake.url).check_in_item(item="I1")


def test_a_server_error_during_a_lookup_is_just_unavailable() -> None:
    with serve(lambda _s: Answer(500)) as fake, pytest.raises(IlsUnavailable):
        _client(fake.url).lookup_item("I1")


def test_an_authentication_failure_is_a_rejection() -> None:
    with serve(lambda _s: Answer(401)) as fake, pytest.raises(IlsRejected):
        _client(fake.url).lookup_user("P1")


def test_a_slow_reply_to_a_check_in_leaves_the_outcome_unknown() -> None:
    def slow(_seen: Seen) -> Answer:
        time.sleep(0.6)
        return Answer(200, b"")

    with serve(slow) as fake, pytest.raises(OutcomeUnknown):
        NcipClient(fake.url, HEADER, timeout=(1.0, 0.2)).check_in_item(item="I1")


def test_an_unreachable_responder_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(IlsUnavailable):
        _client(f"http://127.0.0.1:{port}").check_in_item(item="I1")


def test_a_response_for_another_service_is_malformed(server: FakeHttp) -> None:
    answer = handle(req.build_check_in_item(None, item="I1"), Library())
    with serve(lambda _s: Answer(200, answer)) as fake, pytest.raises(NcipMalformed):
        _client(fake.url).lookup_version()
