"""What other NCIP implementations send, answered so that they can read and validate it:
CheckInItem by request id, LookupVersion, NCIP version 1, Problem schemes, impossible dates,
Content-Type and DOCTYPEs."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from ils_adapters.ncip import requests as req
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CheckInItemResult,
    LookupVersionResult,
    Problems,
    parse_response,
)
from ils_adapters.ncip.schemes import ACCEPT_ITEM, CHECK_IN_ITEM, GENERAL, MESSAGING
from tests.ill import senders
from tests.ill.conftest import (
    OTHER,
    OTHER_SECRET,
    PARTNER_SECRET,
    assert_schema_valid,
    post_ncip,
    row_counts,
)

NS = {"n": "http://www.niso.org/2008/ncip"}


def states(rt: Runtime) -> list[str]:
    with unit_of_work(rt.sessions) as s:
        return list(s.scalars(select(IllRequestRow.state).order_by(IllRequestRow.id)))


def only_problem(body: bytes, service: str | None) -> tuple[str, str | None, str | None]:
    result = parse_response(body)
    assert isinstance(result, Problems), result
    assert result.service == service
    [p] = result.problems
    return p.type, p.element, p.detail


def schemes(body: bytes) -> list[tuple[str, str | None]]:
    """(ProblemType, its Scheme attribute) as written on the wire."""
    doc = etree.fromstring(body)
    return [
        (t.text or "", t.get(f"{{{NS['n']}}}Scheme"))
        for t in doc.iterfind(".//n:Problem/n:ProblemType", NS)
    ]


# --- 3. CheckInItem naming the item by the ILL request id -------------------------------------


@pytest.mark.parametrize("item_type", ["ILL Request Id", "Request Identifier"])
def test_a_check_in_naming_the_item_by_its_request_id_closes_that_loan(
    client: FlaskClient, rt: Runtime, item_type: str
) -> None:
    post_ncip(client, senders.reshare_accept_item(request="REQ-314", item="RS-314"))

    answer = post_ncip(client, senders.relais_check_in(item="REQ-314", item_type=item_type))

    assert isinstance(parse_response(answer.data), CheckInItemResult)
    assert states(rt) == ["cancelled"]


def test_a_barcode_type_still_matches_by_barcode_only(client: FlaskClient, rt: Runtime) -> None:
    post_ncip(client, senders.reshare_accept_item(request="REQ-1", item="RS-1"))

    by_request = post_ncip(client, senders.relais_check_in(item="REQ-1", item_type="Barcode"))
    by_barcode = post_ncip(client, senders.relais_check_in(item="RS-1", item_type="Barcode"))

    assert only_problem(by_request.data, "CheckInItem")[:2] == ("Unknown Item", "ItemId")
    assert isinstance(parse_response(by_barcode.data), CheckInItemResult)


# --- 4. LookupVersion ---------------------------------------------------------------------


def test_lookup_version_in_the_discovery_form_is_answered_in_that_form_to_its_agencies(
    client: FlaskClient,
) -> None:
    answer = post_ncip(client, senders.oclc_lookup_version(), secret=OTHER_SECRET)

    assert_schema_valid(answer.data)  # against ncip_version.xsd
    doc = etree.fromstring(answer.data)
    assert doc.tag == "NCIPVersionMessage"
    assert doc.findtext("LookupVersionResponse/FromAgencyId/UniqueAgencyId/Value") == "MAINLIB"
    assert doc.findtext("LookupVersionResponse/ToAgencyId/UniqueAgencyId/Value") == OTHER
    result = parse_response(answer.data)
    assert isinstance(result, LookupVersionResult)
    assert "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd" in result.versions


def test_lookup_version_sent_inside_an_ncip_2_message_gets_the_valid_discovery_form(
    client: FlaskClient,
) -> None:
    body = b"""<NCIPMessage xmlns="http://www.niso.org/2008/ncip" version="2.0"><LookupVersion>
<FromAgencyId><AgencyId>RESHARE</AgencyId></FromAgencyId>
<ToAgencyId><AgencyId>MAINLIB</AgencyId></ToAgencyId></LookupVersion></NCIPMessage>"""

    answer = post_ncip(client, body)

    assert etree.fromstring(answer.data).tag == "NCIPVersionMessage"
    assert isinstance(parse_response(answer.data), LookupVersionResult)


# --- 7. NCIP version 1 --------------------------------------------------------------------


def test_a_version_1_check_in_is_told_that_version_1_is_not_supported_and_which_are(
    client: FlaskClient, rt: Runtime
) -> None:
    post_ncip(client, senders.reshare_accept_item(request="R-1", item="RS-1"))
    before = row_counts(rt)

    answer = post_ncip(client, senders.v1_check_in(item="RS-1"))

    kind, element, detail = only_problem(answer.data, "CheckInItem")
    assert (kind, element) == ("Unsupported Service", "NCIPMessage")
    assert "version 1" in (detail or "") and "2.02" in (detail or "")
    assert "Needed Data Missing" not in answer.data.decode()
    assert row_counts(rt) == before and states(rt) == ["accepted"]


# --- 8. each Problem with its own scheme ----------------------------------------------------


def test_each_problem_type_is_sent_with_the_scheme_that_defines_it(
    client: FlaskClient, rt: Runtime
) -> None:
    syntax = post_ncip(client, b"<NCIPMessage")
    unknown = post_ncip(client, senders.relais_check_in(item="NOT-HERE"))
    nowhere = post_ncip(client, senders.reshare_accept_item(request="R", item="I", pickup="X"))
    missing = post_ncip(
        client,
        req.build_accept_item(
            None,
            request="R",
            request_agency=None,
            user=None,
            item="I",
            pickup_location="MAIN-LOCKER",
        ),
    )
    unsupported = post_ncip(client, req.build_renew_item(None, user="P", item="I"))

    assert schemes(syntax.data) == [("Invalid Message Syntax Error", MESSAGING)]
    assert schemes(unknown.data) == [("Unknown Item", CHECK_IN_ITEM)]
    assert schemes(nowhere.data) == [("Cannot Accept Item", ACCEPT_ITEM)]
    assert schemes(missing.data) == [("Needed Data Missing", GENERAL)]
    assert schemes(unsupported.data) == [("Unsupported Service", GENERAL)]


def test_the_401_problem_is_a_general_processing_error(client: FlaskClient) -> None:
    answer = post_ncip(client, senders.relais_check_in(item="X"), secret=None)

    assert answer.status_code == 401
    assert schemes(answer.data) == [("Agency Authentication Failed", GENERAL)]


# --- 9. impossible dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (
            senders.relais_accept_item(
                request="R-2", item="RS-2", pickup_expiry="2018-02-31T00:00:00"
            ),
            "PickupExpiryDate",
        ),
        (
            senders.reshare_accept_item(
                request="R-3", item="RS-3", date_for_return="2018-02-31T23:59:59Z"
            ),
            "DateForReturn",
        ),
    ],
    ids=["relais-pickup-expiry", "reshare-date-for-return"],
)
def test_an_impossible_date_is_invalid_date_inside_the_service_response(
    client: FlaskClient, rt: Runtime, body: bytes, element: str
) -> None:
    before = row_counts(rt)

    answer = post_ncip(client, body)

    kind, named, _detail = only_problem(answer.data, "AcceptItem")
    assert (kind, named) == ("Invalid Date", element)
    assert schemes(answer.data) == [("Invalid Date", GENERAL)]
    assert row_counts(rt) == before


# --- 10. Content-Type and DOCTYPEs ------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "application/json", "text/plain"]
)
def test_a_body_declared_as_something_other_than_xml_gets_415_and_changes_nothing(
    client: FlaskClient, rt: Runtime, content_type: str
) -> None:
    before = row_counts(rt)
    body = senders.reshare_accept_item(request="R-4", item="RS-4")

    answer = client.post(
        "/ncip", data=body, headers={"Content-Type": content_type, "X-NCIP-Secret": PARTNER_SECRET}
    )

    assert answer.status_code == 415
    assert_schema_valid(answer.data)
    assert only_problem(answer.data, None)[0] == "Invalid Message Syntax Error"
    assert row_counts(rt) == before


@pytest.mark.parametrize("content_type", ["text/xml; charset=UTF-8", None])
def test_xml_declared_as_text_xml_or_not_declared_at_all_is_processed(
    client: FlaskClient, rt: Runtime, content_type: str | None
) -> None:
    headers = {"X-NCIP-Secret": PARTNER_SECRET}
    if content_type:
        headers["Content-Type"] = content_type

    answer = client.post(
        "/ncip", data=senders.reshare_accept_item(request="R-5", item="RS-5"), headers=headers
    )

    assert answer.status_code == 200
    assert parse_response(answer.data) == AcceptItemResult("R-5", "RS-5")


def test_a_harmless_public_doctype_is_read_but_an_entity_still_is_not(
    client: FlaskClient, rt: Runtime
) -> None:
    doctype = (
        b'<!DOCTYPE NCIPMessage PUBLIC "-//NISO//NCIP DTD Version 2//EN" '
        b'"http://www.niso.org/schemas/ncip/v2_0/ncip_v2_0.dtd">\n'
    )
    body = senders.reshare_accept_item(request="R-6", item="RS-6")
    declared = body.replace(b"?>\n", b"?>\n" + doctype, 1)
    with_entity = declared.replace(b'.dtd">', b'.dtd" [<!ENTITY who "RESHARE">]>', 1).replace(
        b"<ns1:AgencyId>RESHARE</ns1:AgencyId>\n      <ns1:Req",
        b"<ns1:AgencyId>&who;</ns1:AgencyId><ns1:Req",
    )

    accepted = post_ncip(client, declared)
    refused = post_ncip(client, with_entity)

    assert parse_response(accepted.data) == AcceptItemResult("R-6", "RS-6")
    assert only_problem(refused.data, None)[0] == "Invalid Message Syntax Error"
    assert states(rt) == ["accepted"]
