from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ils_adapters.base import IlsUnavailable
from ils_adapters.ncip import requests as req
from ils_adapters.ncip import responder
from ils_adapters.ncip.errors import NcipMalformed
from ils_adapters.ncip.responder import (
    AcceptItemDone,
    CheckInItemDone,
    check_shared_secret,
)
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CheckInItemResult,
    LookupVersionResult,
    NcipProblem,
    Problems,
    parse_response,
)
from tests.ils_adapters.ncip.shared import (
    SAMPLES,
    assert_valid,
    is_response,
    need_shared,
    sample_files,
)


@dataclass
class RecordingHandler:
    """A handler that records what reached it (the application side of the responder)."""

    accepted: list[req.AcceptItemRequest] = field(default_factory=list)
    checked_in: list[req.CheckInItemRequest] = field(default_factory=list)
    refuse_with: NcipProblem | None = None
    down: bool = False

    def accept_item(self, request: req.AcceptItemRequest) -> AcceptItemDone | NcipProblem:
        if self.down:
            raise IlsUnavailable("catalogue down")
        self.accepted.append(request)
        return self.refuse_with or AcceptItemDone(item=request.item or "TMP-1")

    def check_in_item(self, request: req.CheckInItemRequest) -> CheckInItemDone | NcipProblem:
        if self.down:
            raise IlsUnavailable("catalogue down")
        self.checked_in.append(request)
        return self.refuse_with or CheckInItemDone()

    def lookup_version(self) -> tuple[str, ...]:
        return ("http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd",)

    @property
    def called(self) -> bool:
        return bool(self.accepted or self.checked_in)


HEADER = req.Header("ILLSYSTEM", "LOCKERBRIDGE")


def handle(body: bytes, handler: RecordingHandler, **kwargs: int) -> bytes:
    """The responder's answer, which must be valid NCIP whatever it was asked."""
    answer = responder.handle(body, handler, **kwargs)
    assert_valid(answer)
    return answer


def _accept() -> bytes:
    return req.build_accept_item(
        HEADER,
        request="ILL-9",
        request_agency="ILLSYSTEM",
        user="P1",
        item="ILL-9-1",
        pickup_location="LOCKER1",
        title="T",
    )


@pytest.mark.parametrize(
    "path",
    [p for p in sample_files() if not is_response(p)],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_sample_request_gets_a_schema_valid_answer(path: Path) -> None:
    handler = RecordingHandler()

    answer = handle(path.read_bytes(), handler)

    assert_valid(answer)
    result = parse_response(answer)
    if "accept" in path.name.lower():
        assert isinstance(result, AcceptItemResult) and len(handler.accepted) == 1
    elif "checkin" in path.name.lower():
        assert isinstance(result, CheckInItemResult) and len(handler.checked_in) == 1
    else:
        assert isinstance(result, Problems)
        assert result.problems[0].type == "Unsupported Service" and not handler.called


def test_an_ill_item_for_a_locker_bank_reaches_the_handler_and_is_confirmed() -> None:
    handler = RecordingHandler()

    answer = handle(_accept(), handler)

    assert handler.accepted[0].pickup_location == "LOCKER1"
    assert parse_response(answer) == AcceptItemResult("ILL-9", "ILL-9-1")
    assert b"ILLSYSTEM" in answer  # the response header addresses the sender


def test_the_folio_sample_with_an_unprefixed_version_is_accepted() -> None:
    need_shared()
    handler = RecordingHandler()

    handle((SAMPLES / "folio-mod-ncip" / "acceptItem.xml").read_bytes(), handler)

    assert handler.accepted[0].pickup_location == "FAIRCHILD"


def test_a_handler_refusal_becomes_a_problem_in_the_service_response() -> None:
    handler = RecordingHandler(
        refuse_with=NcipProblem("Unknown User", "no such patron", "UserId", "P1")
    )

    answer = handle(_accept(), handler)

    assert_valid(answer)
    result = parse_response(answer)
    assert isinstance(result, Problems) and result.service == "AcceptItem"
    assert result.problems[0] == NcipProblem("Unknown User", "no such patron", "UserId", "P1")


def test_an_unreachable_catalogue_answers_temporary_processing_failure() -> None:
    answer = handle(req.build_check_in_item(HEADER, item="I1"), RecordingHandler(down=True))

    result = parse_response(answer)
    assert isinstance(result, Problems)
    assert result.problems[0].type == "Temporary Processing Failure"


def test_lookup_version_lists_the_supported_versions() -> None:
    answer = handle(req.build_lookup_version(HEADER), RecordingHandler())

    assert parse_response(answer) == LookupVersionResult(
        ("http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd",)
    )


V1_CHECK_IN = b"""<?xml version="1.0"?>
<!DOCTYPE NCIPMessage PUBLIC "-//NISO//NCIP DTD Version 1//EN"
 "http://www.niso.org/ncip/v1_0/imp1/dtd/ncip_v1_0.dtd">
<NCIPMessage version="http://www.niso.org/ncip/v1_0/imp1/dtd/ncip_v1_0.dtd"><CheckInItem>
<InitiationHeader><FromAgencyId><UniqueAgencyId><Scheme>s</Scheme><Value>ILLSYS</Value>
</UniqueAgencyId></FromAgencyId><ToAgencyId><UniqueAgencyId><Scheme>s</Scheme>
<Value>LB</Value></UniqueAgencyId></ToAgencyId></InitiationHeader>
<UniqueItemId><UniqueAgencyId><Scheme>s</Scheme><Value>ILLSYS</Value></UniqueAgencyId>
<ItemIdentifierValue>I-1</ItemIdentifierValue></UniqueItemId></CheckInItem></NCIPMessage>"""


def test_a_version_1_message_is_told_which_versions_are_supported() -> None:
    handler = RecordingHandler()

    answer = handle(V1_CHECK_IN, handler)

    assert_valid(answer)
    result = parse_response(answer)
    assert isinstance(result, Problems) and result.service == "CheckInItem"
    [problem] = result.problems
    assert problem.type == "Unsupported Service" and "2.02" in (problem.detail or "")
    assert not handler.called


def test_a_check_in_missing_its_item_gets_needed_data_missing() -> None:
    body = (
        b'<NCIPMessage xmlns="http://www.niso.org/2008/ncip" version="x">'
        b"<CheckInItem/></NCIPMessage>"
    )
    handler = RecordingHandler()

    result = parse_response(handle(body, handler))

    assert isinstance(result, Problems) and result.service == "CheckInItem"
    assert result.problems[0].type == "Needed Data Missing" and not handler.called


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<NCIPMessage xmlns="http://www.niso.org/2008/ncip" version="x"><CheckInItem><ItemId>
<ItemIdentifierValue>&xxe;</ItemIdentifierValue></ItemId></CheckInItem></NCIPMessage>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<NCIPMessage xmlns="http://www.niso.org/2008/ncip" version="x"><CheckInItem><ItemId>
<ItemIdentifierValue>&lol9;</ItemIdentifierValue></ItemId></CheckInItem></NCIPMessage>"""


@pytest.mark.parametrize(
    "body",
    [
        XXE,
        BILLION_LAUGHS,
        XXE.decode().replace('encoding="UTF-8"', "").encode("utf-16"),  # hidden from byte scan
        b"<NCIPMessage",  # truncated
        b"\x00\xff garbage",
        b'<CheckInItem xmlns="http://www.niso.org/2008/ncip"/>',  # no NCIPMessage root
        b'<NCIPMessage xmlns="urn:other"><CheckInItem/></NCIPMessage>',
        b'<NCIPMessage xmlns="http://www.niso.org/2008/ncip"><Nonsense/></NCIPMessage>',
    ],
    ids=[
        "xxe",
        "billion-laughs",
        "utf16-doctype",
        "truncated",
        "garbage",
        "no-root",
        "foreign-namespace",
        "unknown-service",
    ],
)
def test_hostile_or_malformed_bodies_get_a_problem_and_never_reach_the_handler(
    body: bytes,
) -> None:
    handler = RecordingHandler()

    answer = handle(body, handler)

    assert not handler.called
    assert_valid(answer)
    result = parse_response(answer)
    assert isinstance(result, Problems)
    assert result.problems[0].type == "Invalid Message Syntax Error"
    assert b"root:" not in answer  # nothing from /etc/passwd leaks back


def test_an_oversized_body_is_refused_before_parsing() -> None:
    handler = RecordingHandler()
    body = _accept().replace(
        b"<ns1:Title>T</ns1:Title>", b"<ns1:Title>" + b"x" * 300_000 + b"</ns1:Title>"
    )

    result = parse_response(handle(body, handler))

    assert isinstance(result, Problems) and "limit" in (result.problems[0].detail or "")
    assert not handler.called


def test_the_size_limit_is_configurable() -> None:
    handler = RecordingHandler()

    handle(_accept(), handler, max_bytes=100)

    assert not handler.called


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzzed_bytes_never_raise_anything_but_our_typed_error(body: bytes) -> None:
    with contextlib.suppress(NcipMalformed):
        parse_response(body)
    answer = handle(body, RecordingHandler())
    assert isinstance(
        parse_response(answer),
        Problems | AcceptItemResult | CheckInItemResult | LookupVersionResult,
    )


_TAGS = st.sampled_from(
    [
        "NCIPMessage",
        "CheckInItem",
        "AcceptItem",
        "ItemId",
        "RequestId",
        "ItemIdentifierValue",
        "RequestIdentifierValue",
        "RequestedActionType",
        "DateForReturn",
        "Problem",
        "ProblemType",
        "CheckOutItemResponse",
        "UserId",
        "UserIdentifierValue",
        "DateDue",
        "LookupUserResponse",
    ]
)


@st.composite
def _ncip_like(draw: st.DrawFn) -> bytes:
    def node(depth: int) -> str:
        tag = draw(_TAGS)
        if depth > 3 or draw(st.booleans()):
            body = draw(st.text(alphabet="abc123-:TZ.<&", max_size=12))
            body = body.replace("<", "&lt;").replace("&", "&amp;") if draw(st.booleans()) else body
        else:
            body = "".join(node(depth + 1) for _ in range(draw(st.integers(0, 3))))
        return f"<{tag}>{body}</{tag}>"

    inner = node(1)
    return (
        f'<NCIPMessage xmlns="http://www.niso.org/2008/ncip" version="v">{inner}</NCIPMessage>'
    ).encode()


@settings(max_examples=300, deadline=None)
@given(_ncip_like())
def test_fuzzed_ncip_shaped_messages_never_raise_anything_but_our_typed_error(
    body: bytes,
) -> None:
    with contextlib.suppress(NcipMalformed):
        parse_response(body)
    with contextlib.suppress(NcipMalformed):
        req.parse_request(body)
    parse_response(handle(body, RecordingHandler()))


def test_the_shared_secret_check_accepts_only_the_exact_secret() -> None:
    assert check_shared_secret("s3cret-value", "s3cret-value")
    assert check_shared_secret(" s3cret-value ", "s3cret-value")
    assert not check_shared_secret("s3cret-valuf", "s3cret-value")
    assert not check_shared_secret(None, "s3cret-value")
    assert not check_shared_secret("", "")  # an unset secret never opens the door
