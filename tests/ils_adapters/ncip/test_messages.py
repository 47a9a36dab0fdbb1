from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ils_adapters.ncip import requests as req
from ils_adapters.ncip.errors import NcipMalformed
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CheckInItemResult,
    CheckOutItemResult,
    LookupUserResult,
    LookupVersionResult,
    Problems,
    build_lookup_version_response,
    parse_response,
)
from ils_adapters.ncip.xml import parse_xml
from tests.ils_adapters.ncip.shared import (
    SAMPLES,
    assert_valid,
    is_response,
    need_shared,
    sample_files,
)

HEADER = req.Header("LOCKERBRIDGE", "MAIN")
DEPOSIT = datetime(2024, 5, 6, 14, 5, 9, tzinfo=UTC)

BUILDERS: dict[str, Callable[[], bytes]] = {
    "LookupUser": lambda: req.build_lookup_user(
        HEADER, "P1", loaned_items=True, requested_items=True
    ),
    "LookupUser without header": lambda: req.build_lookup_user(None, "P1", elements=()),
    "LookupItem": lambda: req.build_lookup_item(HEADER, "I1"),
    "AcceptItem": lambda: req.build_accept_item(
        HEADER,
        request="ILL-7",
        request_agency="LOCKERBRIDGE",
        user="P1",
        item="ILL-7-1",
        pickup_location="LOCKER1",
        title="A title",
        author="An author",
        date_for_return=DEPOSIT,
        pickup_expiry=DEPOSIT,
    ),
    "AcceptItem minimal": lambda: req.build_accept_item(
        None, request="R", request_agency=None, user=None, item=None, pickup_location=None
    ),
    "RequestItem by item": lambda: req.build_request_item(
        HEADER,
        user="P1",
        item="I1",
        request="R1",
        request_agency="LOCKERBRIDGE",
        pickup_location="LOCKER1",
    ),
    "RequestItem by record": lambda: req.build_request_item(
        HEADER, user="P1", bib_record="42", bib_agency="MAIN", scope="Bibliographic Item"
    ),
    "RequestItem by OCLC number": lambda: req.build_request_item(
        HEADER, user="P1", bib_record="2052516", bib_code="OCLC", item="I1"
    ),
    "CancelRequestItem by request": lambda: req.build_cancel_request_item(
        HEADER, user="P1", request="R1", request_agency="LOCKERBRIDGE"
    ),
    "CancelRequestItem by item": lambda: req.build_cancel_request_item(
        HEADER, user="P1", item="I1"
    ),
    "CheckOutItem": lambda: req.build_check_out_item(
        HEADER, user="P1", item="I1", request="R1", desired_due=DEPOSIT
    ),
    "CheckInItem": lambda: req.build_check_in_item(HEADER, item="I1", occurred_at=DEPOSIT),
    "CheckInItem plain": lambda: req.build_check_in_item(None, item="I1"),
    "RenewItem": lambda: req.build_renew_item(HEADER, user="P1", item="I1", desired_due=DEPOSIT),
    "CheckInItem with the item's agency": lambda: req.build_check_in_item(
        HEADER, item="I1", item_agency="LENDER"
    ),
    "LookupVersion": lambda: req.build_lookup_version(HEADER),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_request_we_build_validates_against_the_ncip_2_02_schema(name: str) -> None:
    # (LookupVersion against the version-discovery schema, ncip_version.xsd)
    assert_valid(BUILDERS[name]())


def test_lookup_version_is_sent_in_the_version_discovery_form() -> None:
    from lxml import etree

    doc = etree.fromstring(req.build_lookup_version(HEADER))

    assert doc.tag == "NCIPVersionMessage"  # no namespace, as ncip_version.xsd defines it
    assert doc.findtext("LookupVersion/FromAgencyId/UniqueAgencyId/Value") == "LOCKERBRIDGE"


def test_a_version_1_lookup_version_keeps_its_unique_agency_ids() -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE NCIPVersionMessage PUBLIC "-//NISO//NCIP Version Discovery XML Schema//EN"
 "http://www.niso.org/ncip/v1_0/imp1/xsd/ncip_version.xsd">
<NCIPVersionMessage version="http://www.niso.org/ncip/v1_0/imp1/xsd/ncip_version.xsd">
<LookupVersion><FromAgencyId><UniqueAgencyId><Scheme>s</Scheme><Value>ILLSYS</Value>
</UniqueAgencyId></FromAgencyId><ToAgencyId><UniqueAgencyId><Scheme>s</Scheme>
<Value>MAIN</Value></UniqueAgencyId></ToAgencyId></LookupVersion></NCIPVersionMessage>"""

    assert req.parse_request(body) == req.LookupVersionRequest(req.Header("ILLSYS", "MAIN"))


def test_an_impossible_date_is_reported_as_invalid_date_of_its_element_and_service() -> None:
    body = req.build_check_in_item(HEADER, item="I1", occurred_at=DEPOSIT).replace(
        b"2024-05-06T14:05:09Z", b"2018-02-31T10:00:00Z"
    )

    with pytest.raises(NcipMalformed) as caught:
        req.parse_request(body)

    assert (caught.value.problem, caught.value.service, caught.value.element) == (
        "Invalid Date",
        "CheckInItem",
        "DateEventOccurred",
    )


FOLIO_REFUSAL = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<ns1:NCIPMessage xmlns:ns1="http://www.niso.org/2008/ncip"
 ns1:version="http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"><ns1:CheckInItemResponse>
<ns1:Problem><ns1:ProblemType></ns1:ProblemType><ns1:ProblemDetail>Could not find item 12</ns1:ProblemDetail>
</ns1:Problem></ns1:CheckInItemResponse></ns1:NCIPMessage>"""


def test_a_folio_problem_with_an_empty_problem_type_is_still_a_problem() -> None:
    result = parse_response(FOLIO_REFUSAL)

    assert isinstance(result, Problems) and result.service == "CheckInItem"
    assert [(p.type, p.detail) for p in result.problems] == [("", "Could not find item 12")]
    assert str(result.problems[0]) == "Problem (Could not find item 12)"


def test_a_problem_keeps_the_scheme_its_sender_named() -> None:
    need_shared()
    body = (SAMPLES / "xc-toolkit" / "ProblemResponseSample1.xml").read_bytes()
    result = parse_response(body)

    assert isinstance(result, Problems)
    assert all(p.scheme and p.scheme.endswith(".scm") for p in result.problems)


def test_lookup_version_names_both_agencies_and_parses_back() -> None:
    parsed = req.parse_request(req.build_lookup_version(HEADER))

    assert parsed == req.LookupVersionRequest(HEADER)


def test_a_check_in_we_build_carries_the_deposit_time_for_backdating() -> None:
    parsed = req.parse_request(req.build_check_in_item(HEADER, item="I1", occurred_at=DEPOSIT))

    assert isinstance(parsed, req.CheckInItemRequest)
    assert parsed.item == "I1" and parsed.occurred_at == DEPOSIT and parsed.header == HEADER


def test_an_accept_item_we_build_reads_back_field_for_field() -> None:
    parsed = req.parse_request(BUILDERS["AcceptItem"]())

    assert parsed == req.AcceptItemRequest(
        header=HEADER,
        request="ILL-7",
        request_agency="LOCKERBRIDGE",
        action="Hold For Pickup",
        user="P1",
        item="ILL-7-1",
        item_agency=None,
        title="A title",
        author="An author",
        pickup_location="LOCKER1",
        pickup_expiry=DEPOSIT,
        date_for_return=DEPOSIT,
    )


def test_a_request_item_needs_an_item_or_a_record() -> None:
    with pytest.raises(ValueError):
        req.build_request_item(HEADER, user="P1")


def test_naive_datetimes_are_refused_when_building() -> None:
    with pytest.raises(ValueError):
        req.build_check_in_item(HEADER, item="I1", occurred_at=datetime(2024, 1, 1))


# --- the shared samples -------------------------------------------------------------------


def _requests() -> list[Path]:
    return [p for p in sample_files() if not is_response(p)]


def _responses() -> list[Path]:
    return [p for p in sample_files() if is_response(p)]


@pytest.mark.parametrize("path", _requests(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_request_is_read_into_a_typed_request(path: Path) -> None:
    parsed = req.parse_request(path.read_bytes())

    service = path.stem.removesuffix("Sample1")
    assert type(parsed).__name__.lower().startswith(service.lower()) or (
        isinstance(parsed, req.OtherRequest) and parsed.service.lower() == service.lower()
    )


def test_the_folio_accept_item_with_an_unprefixed_version_is_read() -> None:
    need_shared()
    parsed = req.parse_request((SAMPLES / "folio-mod-ncip" / "acceptItem.xml").read_bytes())

    assert isinstance(parsed, req.AcceptItemRequest)
    assert parsed.pickup_location == "FAIRCHILD"
    assert parsed.request == "LEH-20191122954" and parsed.user == "8377630"
    assert parsed.action == "Hold For Pickup" and parsed.title == "Friday TEST"
    assert parsed.header == req.Header("Relais", "LEHI")


@pytest.mark.parametrize("path", _responses(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_response_parses_into_a_typed_result(path: Path) -> None:
    result = parse_response(path.read_bytes())

    assert result is not None
    if isinstance(result, Problems):
        assert result.problems and all(p.type for p in result.problems)


def test_the_sample_checkout_response_gives_the_due_date() -> None:
    need_shared()
    result = parse_response((SAMPLES / "xc-toolkit" / "CheckOutItemResponse.xml").read_bytes())

    assert result == CheckOutItemResult(
        "19823098123", "10923123", datetime(2010, 11, 18, 16, 17, 3, 291000, tzinfo=UTC)
    )


def test_the_sample_lookup_user_response_lists_loans_and_requests() -> None:
    need_shared()
    body = (SAMPLES / "xc-toolkit" / "LookupUserResponseSample1.xml").read_bytes()
    result = parse_response(body)

    assert isinstance(result, LookupUserResult)
    assert result.user == "987181"
    assert [i.title for i in result.loaned_items] == ["Steal this book!"]
    assert result.requested_items[0].status == "Available For Pickup"


def test_a_problem_inside_a_service_response_names_the_service() -> None:
    need_shared()
    body = (SAMPLES / "xc-toolkit" / "RequestItemResponseSample1.xml").read_bytes()
    result = parse_response(body)

    assert isinstance(result, Problems) and result.service == "RequestItem"
    assert result.problems[0].type == "User Blocked"
    assert result.problems[0].value == "patronoruseridhere"


def test_a_top_level_problem_has_no_service() -> None:
    need_shared()
    result = parse_response((SAMPLES / "xc-toolkit" / "ProblemResponseSample1.xml").read_bytes())

    assert isinstance(result, Problems) and result.service is None
    assert [p.type for p in result.problems] == [
        "Agency Authentication Failed",
        "Needed Data Missing",
    ]


def test_simple_responses_parse() -> None:
    need_shared()
    accept = parse_response((SAMPLES / "xc-toolkit/AcceptItemResponseSample1.xml").read_bytes())
    checkin = parse_response((SAMPLES / "xc-toolkit/CheckInItemResponse.xml").read_bytes())

    assert accept == AcceptItemResult("VDX1234", None)
    assert checkin == CheckInItemResult("10923123", None)


LOOKUP_USER_WITH_CONTACT = b"""<?xml version="1.0"?>
<ns1:NCIPMessage xmlns:ns1="http://www.niso.org/2008/ncip" ns1:version="v">
 <ns1:LookupUserResponse>
  <ns1:UserId><ns1:UserIdentifierValue>P1</ns1:UserIdentifierValue></ns1:UserId>
  <ns1:UserOptionalFields>
   <ns1:NameInformation><ns1:PersonalNameInformation><ns1:StructuredPersonalUserName>
     <ns1:GivenName>Ada</ns1:GivenName><ns1:Surname>Reader</ns1:Surname>
   </ns1:StructuredPersonalUserName></ns1:PersonalNameInformation></ns1:NameInformation>
   <ns1:UserAddressInformation><ns1:UserAddressRoleType>Home</ns1:UserAddressRoleType>
    <ns1:ElectronicAddress><ns1:ElectronicAddressType>mailto</ns1:ElectronicAddressType>
     <ns1:ElectronicAddressData>ada@example.org</ns1:ElectronicAddressData></ns1:ElectronicAddress>
   </ns1:UserAddressInformation>
   <ns1:UserAddressInformation><ns1:UserAddressRoleType>Home</ns1:UserAddressRoleType>
    <ns1:ElectronicAddress><ns1:ElectronicAddressType>tel</ns1:ElectronicAddressType>
     <ns1:ElectronicAddressData>+15551234</ns1:ElectronicAddressData></ns1:ElectronicAddress>
   </ns1:UserAddressInformation>
   <ns1:UserLanguage>fre</ns1:UserLanguage>
   <ns1:BlockOrTrap><ns1:AgencyId>MAIN</ns1:AgencyId>
    <ns1:BlockOrTrapType>Block Check Out</ns1:BlockOrTrapType></ns1:BlockOrTrap>
  </ns1:UserOptionalFields>
 </ns1:LookupUserResponse>
</ns1:NCIPMessage>"""


def test_lookup_user_gives_contact_language_and_blocks() -> None:
    need_shared()
    from lxml import etree

    doc = etree.fromstring(LOOKUP_USER_WITH_CONTACT.replace(b'ns1:version="v"', b'ns1:version="x"'))
    from tests.ils_adapters.ncip.shared import schema

    assert schema().validate(doc), schema().error_log.last_error
    result = parse_response(LOOKUP_USER_WITH_CONTACT)

    assert isinstance(result, LookupUserResult)
    assert (result.name, result.email, result.phone, result.language) == (
        "Ada Reader",
        "ada@example.org",
        "+15551234",
        "fre",
    )
    assert result.blocks == ("Block Check Out",)


def test_lookup_version_response_round_trips() -> None:
    result = parse_response(build_lookup_version_response(HEADER, ("2.0", "2.02")))

    assert result == LookupVersionResult(("2.0", "2.02"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<a/>",
        b'<NCIPMessage xmlns="http://www.niso.org/2008/ncip"/>',
        b'<NCIPMessage xmlns="http://www.niso.org/2008/ncip"><CheckInItem/></NCIPMessage>',
        b'<NCIPMessage xmlns="http://www.niso.org/2008/ncip"><CheckOutItemResponse>'
        b"<ItemId><ItemIdentifierValue>1</ItemIdentifierValue></ItemId>"
        b"<UserId><UserIdentifierValue>2</UserIdentifierValue></UserId>"
        b"<DateDue>next tuesday</DateDue></CheckOutItemResponse></NCIPMessage>",
    ],
)
def test_unusable_responses_raise_only_ncip_malformed(body: bytes) -> None:
    with pytest.raises(NcipMalformed):
        parse_response(body)


def test_the_hardened_parser_refuses_oversized_messages_before_parsing() -> None:
    with pytest.raises(NcipMalformed, match="limit"):
        parse_xml(b"<a>" + b"x" * 2000 + b"</a>", max_bytes=1000)
