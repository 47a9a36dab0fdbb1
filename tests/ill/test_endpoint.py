"""POST /ncip: authentication, hostile XML, every sample request, AcceptItem and CheckInItem."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import LoadRow, TransitRow
from bridge.web.app import create_app
from ils_adapters.ncip import requests as req
from ils_adapters.ncip.responses import (
    AcceptItemResult,
    CheckInItemResult,
    LookupVersionResult,
    Problems,
    parse_response,
)
from tests.ill.conftest import (
    ILS_SECRET,
    PARTNER,
    PARTNER_DN,
    PARTNER_SECRET,
    SAMPLES,
    assert_schema_valid,
    need_shared,
    post_ncip,
    row_counts,
)

HEADER = req.Header(PARTNER, "MAINLIB")


def accept(request: str = "ILL-1", item: str | None = "ILL-ITEM-1", **kw: object) -> bytes:
    fields: dict[str, object] = {
        "request": request,
        "request_agency": PARTNER,
        "user": "23000000000001",
        "item": item,
        "pickup_location": "MAIN-LOCKER",
        "title": "A borrowed book",
    }
    fields.update(kw)
    return req.build_accept_item(HEADER, **fields)  # type: ignore[arg-type]


def ill_rows(rt: Runtime) -> list[IllRequestRow]:
    with unit_of_work(rt.sessions) as s:
        return list(s.scalars(select(IllRequestRow).order_by(IllRequestRow.id)))


def transits(rt: Runtime) -> dict[str, str]:
    with unit_of_work(rt.sessions) as s:
        return {t.item_barcode: t.bank_id for t in s.scalars(select(TransitRow))}


def problem_types(body: bytes) -> tuple[str, ...]:
    result = parse_response(body)
    assert isinstance(result, Problems), result
    return tuple(p.type for p in result.problems)


# --- authentication -----------------------------------------------------------------------


def test_a_request_without_credentials_is_refused_with_401_audited_and_changes_nothing(
    client: FlaskClient, rt: Runtime
) -> None:
    before = row_counts(rt)

    answer = post_ncip(client, accept(), secret=None)

    assert answer.status_code == 401
    assert problem_types(answer.data) == ("Agency Authentication Failed",)
    assert ill_rows(rt) == [] and transits(rt) == {}
    with unit_of_work(rt.sessions) as s:
        refused = s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "ncip_refused")).one()
    assert refused.detail == {"presented": ["nothing"]}
    after = row_counts(rt)
    assert after.pop("audit_event") == before.pop("audit_event") + 1
    assert after == before


def test_a_wrong_secret_is_refused_and_never_written_to_the_audit_log(
    client: FlaskClient, rt: Runtime
) -> None:
    answer = post_ncip(client, accept(), secret="guess-" + PARTNER_SECRET)

    assert answer.status_code == 401
    assert ill_rows(rt) == []
    with unit_of_work(rt.sessions) as s:
        events = list(s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "ncip_refused")))
    assert [e.detail for e in events] == [{"presented": ["secret"]}]
    assert PARTNER_SECRET not in repr([e.detail for e in events])


@pytest.mark.parametrize("secret", [PARTNER_SECRET, ILS_SECRET])
def test_the_partners_secret_and_the_ils_ncip_secret_are_both_accepted(
    client: FlaskClient, secret: str
) -> None:
    answer = post_ncip(client, req.build_lookup_version(HEADER), secret=secret)

    assert answer.status_code == 200
    assert answer.content_type.startswith("application/xml")
    result = parse_response(answer.data)
    assert isinstance(result, LookupVersionResult)
    assert "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd" in result.versions


def test_a_client_certificate_verified_by_the_proxy_authenticates_the_partner(
    client: FlaskClient, rt: Runtime
) -> None:
    headers = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": PARTNER_DN.lower()}

    answer = client.post("/ncip", data=accept(), headers=headers)

    assert answer.status_code == 200
    assert isinstance(parse_response(answer.data), AcceptItemResult)
    assert [r.partner for r in ill_rows(rt)] == [PARTNER]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-SSL-Client-Verify": "FAILED:certificate has expired", "X-SSL-Client-S-DN": PARTNER_DN},
        {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": "CN=someone.else"},
        {"X-SSL-Client-S-DN": PARTNER_DN},
    ],
    ids=["not-verified", "unknown-subject", "no-verify-header"],
)
def test_a_certificate_the_proxy_did_not_verify_or_does_not_know_is_refused(
    client: FlaskClient, rt: Runtime, headers: dict[str, str]
) -> None:
    answer = client.post("/ncip", data=accept(), headers=headers)

    assert answer.status_code == 401
    assert ill_rows(rt) == []


def test_csrf_protection_does_not_apply_to_the_machine_endpoint(rt: Runtime) -> None:
    # The staff pages switch Flask-WTF on; with its global check on, /ncip must still answer.
    strict = create_app(rt.settings, rt)
    strict.config["WTF_CSRF_CHECK_DEFAULT"] = True

    answer = post_ncip(strict.test_client(), accept())
    without_token = strict.test_client().post("/staff/logout")

    assert without_token.status_code == 400  # CSRF is on for the pages...
    assert answer.status_code == 200  # ...but not for /ncip
    assert isinstance(parse_response(answer.data), AcceptItemResult)


# --- hostile XML ----------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE NCIPMessage [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<NCIPMessage xmlns="http://www.niso.org/2008/ncip" version="2.0"><AcceptItem>
<RequestId><RequestIdentifierValue>&xxe;</RequestIdentifierValue></RequestId>
<RequestedActionType>Hold For Pickup</RequestedActionType>
<UserId><UserIdentifierValue>23000000000001</UserIdentifierValue></UserId>
<ItemId><ItemIdentifierValue>X1</ItemIdentifierValue></ItemId>
<PickupLocation>MAIN-LOCKER</PickupLocation></AcceptItem></NCIPMessage>"""

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b']><NCIPMessage xmlns="http://www.niso.org/2008/ncip"><AcceptItem><RequestId>'
    + b"<RequestIdentifierValue>&lol9;</RequestIdentifierValue></RequestId></AcceptItem>"
    + b"</NCIPMessage>"
)


@pytest.mark.parametrize(
    "body",
    [
        XXE,
        LAUGHS,
        XXE.decode().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>', 1).encode("utf-16"),
        b"<NCIPMessage xmlns='http://www.niso.org/2008/ncip'><AcceptItem>",
        b"not xml at all",
        b"",
        accept() + b" " * 300_000,
    ],
    ids=["xxe", "billion-laughs", "xxe-utf16", "truncated", "garbage", "empty", "oversized"],
)
def test_malformed_entity_laden_or_oversized_xml_gets_a_problem_and_changes_nothing(
    client: FlaskClient, rt: Runtime, body: bytes
) -> None:
    before = row_counts(rt)

    answer = post_ncip(client, body)

    assert answer.status_code == 200
    assert answer.content_type.startswith("application/xml")
    assert "Invalid Message Syntax Error" in problem_types(answer.data)
    assert b"root:" not in answer.data  # nothing of /etc/passwd comes back
    assert row_counts(rt) == before


def test_an_oversized_body_without_a_content_length_is_cut_off_with_a_problem(
    client: FlaskClient, rt: Runtime
) -> None:
    before = row_counts(rt)
    big = accept() + b" " * (rt.settings.security.ncip_max_bytes + 1)

    # A chunked upload: the server learns the size only by reading (WSGI input_terminated).
    answer = client.post(
        "/ncip",
        input_stream=io.BytesIO(big),
        headers={"X-NCIP-Secret": PARTNER_SECRET, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert answer.status_code == 200
    assert "Invalid Message Syntax Error" in problem_types(answer.data)
    assert row_counts(rt) == before


# --- every sample request ----------------------------------------------------------------------


def sample_requests() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*/*.xml") if "Response" not in p.name)


@pytest.mark.parametrize("path", sample_requests(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_request_gets_a_schema_valid_answer_or_a_problem_never_a_500(
    client: FlaskClient, path: Path
) -> None:
    need_shared()

    answer = post_ncip(client, path.read_bytes())

    assert answer.status_code == 200
    assert_schema_valid(answer.data)
    result = parse_response(answer.data)
    if "accept" in path.name.lower() and "folio" in str(path):
        assert isinstance(result, AcceptItemResult)  # FAIRCHILD routes to main-lobby
    elif "accept" in path.name.lower():
        assert isinstance(result, Problems)  # the toolkit's sample names no PickupLocation
    elif "checkin" in path.name.lower():
        assert isinstance(result, Problems)  # no such loan here
        assert result.problems[0].type == "Unknown Item"
    else:
        assert isinstance(result, Problems)
        assert result.problems[0].type == "Unsupported Service"


def test_samples_exist() -> None:
    need_shared()
    assert len(sample_requests()) >= 8


def test_the_folio_sample_with_an_unprefixed_version_registers_its_item_at_the_routed_bank(
    client: FlaskClient, rt: Runtime
) -> None:
    need_shared()
    body = (SAMPLES / "folio-mod-ncip" / "acceptItem.xml").read_bytes()

    answer = post_ncip(client, body)

    result = parse_response(answer.data)
    assert isinstance(result, AcceptItemResult)
    assert (result.request, result.item) == ("LEH-20191122954", "LEH-20191122954")
    [row] = ill_rows(rt)
    assert (row.bank_id, row.partner, row.patron) == ("main-lobby", PARTNER, "8377630")
    assert transits(rt) == {"LEH-20191122954": "main-lobby"}


# --- AcceptItem -----------------------------------------------------------------------------


def test_accept_item_holds_a_compartment_back_at_the_bank_of_the_pickup_location(
    client: FlaskClient, rt: Runtime
) -> None:
    answer = post_ncip(client, accept(pickup_location="EAST-LOCKER"))

    assert_schema_valid(answer.data)
    result = parse_response(answer.data)
    assert isinstance(result, AcceptItemResult)
    assert (result.request, result.item) == ("ILL-1", "ILL-ITEM-1")
    [row] = ill_rows(rt)
    assert (row.state, row.bank_id, row.request_agency, row.item) == (
        "accepted",
        "east-station",
        PARTNER,
        "ILL-ITEM-1",
    )
    assert transits(rt) == {"ILL-ITEM-1": "east-station"}


def test_the_same_request_id_twice_registers_the_item_once_and_answers_the_same(
    client: FlaskClient, rt: Runtime
) -> None:
    first = post_ncip(client, accept())
    second = post_ncip(client, accept())

    assert parse_response(first.data) == parse_response(second.data)
    assert len(ill_rows(rt)) == 1
    assert transits(rt) == {"ILL-ITEM-1": "main-lobby"}


def test_a_request_id_reused_for_another_item_is_refused(client: FlaskClient, rt: Runtime) -> None:
    post_ncip(client, accept())

    answer = post_ncip(client, accept(item="SOMETHING-ELSE"))

    assert problem_types(answer.data) == ("Cannot Accept Item",)
    assert [r.item for r in ill_rows(rt)] == ["ILL-ITEM-1"]


@pytest.mark.parametrize(
    ("changes", "expected", "element"),
    [
        ({"pickup_location": "NOWHERE"}, "Cannot Accept Item", "PickupLocation"),
        ({"pickup_location": None}, "Needed Data Missing", "PickupLocation"),
        ({"user": None}, "Needed Data Missing", "UserId"),
        ({"item": None}, "Needed Data Missing", "ItemId"),
        ({"action": "Hold For Shipping"}, "Cannot Accept Item", "RequestedActionType"),
    ],
    ids=["unknown-location", "no-location", "no-user", "no-item", "not-a-pickup"],
)
def test_an_accept_item_we_cannot_serve_gets_a_problem_naming_the_element_and_changes_nothing(
    client: FlaskClient, rt: Runtime, changes: dict[str, object], expected: str, element: str
) -> None:
    before = row_counts(rt)

    answer = post_ncip(client, accept(**changes))  # type: ignore[arg-type]

    assert_schema_valid(answer.data)
    result = parse_response(answer.data)
    assert isinstance(result, Problems)
    assert [(p.type, p.element) for p in result.problems] == [(expected, element)]
    assert row_counts(rt) == before


# --- CheckInItem from the partner ---------------------------------------------------------------


def test_the_partner_checking_its_item_in_before_it_arrives_releases_the_held_compartment(
    client: FlaskClient, rt: Runtime
) -> None:
    post_ncip(client, accept())

    answer = post_ncip(client, req.build_check_in_item(HEADER, item="ILL-ITEM-1"))
    again = post_ncip(client, req.build_check_in_item(HEADER, item="ILL-ITEM-1"))

    assert_schema_valid(answer.data)
    assert isinstance(parse_response(answer.data), CheckInItemResult)
    assert isinstance(parse_response(again.data), CheckInItemResult)
    [row] = ill_rows(rt)
    assert (row.state, row.patron, row.title) == ("cancelled", None, None)
    assert transits(rt) == {}


def test_a_partner_credential_cannot_check_in_another_partners_loan(
    client: FlaskClient, rt: Runtime
) -> None:
    post_ncip(client, accept(), secret=ILS_SECRET)  # registered under the header's agency
    with unit_of_work(rt.sessions) as s:
        s.execute(IllRequestRow.__table__.update().values(partner="OTHER"))  # type: ignore[attr-defined]

    answer = post_ncip(client, req.build_check_in_item(HEADER, item="ILL-ITEM-1"))

    assert problem_types(answer.data) == ("Unknown Item",)
    assert [r.state for r in ill_rows(rt)] == ["accepted"]


def test_an_item_already_loaded_when_the_partner_checks_it_in_goes_on_the_staff_list(
    client: FlaskClient, rt: Runtime
) -> None:
    post_ncip(client, accept())
    with unit_of_work(rt.sessions) as s:
        s.add(
            LoadRow(
                bank_id="main-lobby",
                compartment=3,
                item_barcode="ILL-ITEM-1",
                size="S",
                state="loaded",
                patron_ref="p",
            )
        )

    post_ncip(client, req.build_check_in_item(HEADER, item="ILL-ITEM-1"))

    with unit_of_work(rt.sessions) as s:
        attention = s.scalars(
            select(AuditEventRow).where(AuditEventRow.kind == "staff_attention")
        ).one()
    assert (attention.bank_id, attention.compartment, attention.item) == (
        "main-lobby",
        3,
        "ILL-ITEM-1",
    )
