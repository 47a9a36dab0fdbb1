"""End to end: an ILL item announced over NCIP (HTTP to our app) loads into a locker against the
reference SIP2 server over TCP, the patron is told, picks it up with card + PIN, returns it
through a return compartment, the returns worker checks it in, and CheckInItem reaches the ILL
partner. Every rq job runs in a real rq worker on the embedded Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from werkzeug.serving import make_server

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_card
from bridge.services.return_doors import open_return_door
from bridge.services.wiring import driver_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import TransitRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow
from bridge.web.app import create_app
from ils_adapters.ncip import (
    AcceptItemRequest,
    CheckInItemRequest,
    Header,
    NcipClient,
    parse_request,
)
from ils_adapters.ncip.responses import build_accept_item_response, build_check_in_item_response
from lockers.drivers.simulated import SimulatedBank
from sip2.acs.catalogue import Hold, Item
from sip2.acs.server import ReferenceACS
from tests.ill.conftest import (
    ILS_SECRET,
    PARTNER,
    PARTNER_SECRET,
    NcipPeer,
    assert_schema_valid,
    ill_config,
    make_runtime,
    work,
)
from tests.support.runtime import installed

PATRON, PIN = "23000000000001", "1234"  # Ana, in examples/catalogue.json
ITEM = "LEH-20260301-7"


def ils_ncip(acs: ReferenceACS, home: str = "MAIN") -> Callable[[bytes], bytes]:
    """The ILS's NCIP responder: AcceptItem creates the temporary item (at branch ``home``) and
    its hold, as Koha's ILL module does; here through the reference ACS's catalogue API."""

    def answer(body: bytes) -> bytes:
        request = parse_request(body)
        assert isinstance(request, AcceptItemRequest)
        assert request.item and request.user and request.pickup_location
        with acs.engine.lock:
            cat = acs.catalogue
            cat.put(
                Item(barcode=request.item, title=request.title or "ILL", home=home, at=home)
            )
            cat.put(
                Hold(
                    id=cat.next_hold_id(),
                    patron=request.user,
                    pickup=request.pickup_location,
                    item=request.item,
                    placed=cat.next_placed(),
                )
            )
        head = request.header.reversed() if request.header else None
        return build_accept_item_response(
            head, request=request.request, request_agency=request.request_agency, item=request.item
        )

    return answer


def partner_ncip(body: bytes) -> bytes:
    request = parse_request(body)
    assert isinstance(request, CheckInItemRequest)
    head = request.header.reversed() if request.header else None
    return build_check_in_item_response(head, item=request.item)


@pytest.fixture
def world(
    tmp_path: Path,
    sqlite_engine: Engine,
    redis_conn: Any,
    acs: ReferenceACS,
    peer_factory: Callable[[Callable[[bytes], bytes]], NcipPeer],
) -> Iterator[tuple[Runtime, str, NcipPeer, NcipPeer]]:
    ils = peer_factory(ils_ncip(acs))
    partner = peer_factory(partner_ncip)
    cfg = ill_config(tmp_path, partner_url=partner.url)
    cfg["ils"][0].update(
        port=acs.address[1],
        institution="DEMO",
        ncip={"url": ils.url, "shared_secret": ILS_SECRET, "to_agency": "DEMO"},
    )
    rt = make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn)
    server = make_server("127.0.0.1", 0, create_app(rt.settings, rt), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with installed(rt):
            yield rt, f"http://127.0.0.1:{server.server_port}/ncip", ils, partner
    finally:
        server.shutdown()
        thread.join(timeout=5)
        rt.close()


def held(rt: Runtime) -> dict[str, str]:
    with unit_of_work(rt.sessions) as s:
        return {t.item_barcode: t.bank_id for t in s.scalars(select(TransitRow))}


def test_an_ill_item_goes_from_accept_item_through_the_locker_to_check_in_item_at_the_partner(
    world: tuple[Runtime, str, NcipPeer, NcipPeer], acs: ReferenceACS
) -> None:
    rt, url, ils, partner = world
    bank = driver_for(rt, "main-lobby")
    assert isinstance(bank, SimulatedBank)

    # 1. The ILL system announces the item for pickup at the Main lockers.
    ill_system = NcipClient(url, Header(PARTNER, "DEMO"), headers={"X-NCIP-Secret": PARTNER_SECRET})
    accepted = ill_system.accept_item(
        request="LEH-REQ-7",
        user=PATRON,
        item=ITEM,
        pickup_location="MAIN-LOCKER",
        title="Borrowed from afar",
    )
    assert accepted.item == ITEM
    assert len(ils.received) == 1 and acs.catalogue.item(ITEM) is not None
    assert held(rt) == {ITEM: "main-lobby"}  # a compartment is held back while in transit

    # 2. It arrives; staff scan it at the bank; the ILS captures the hold; the door opens.
    scanned = scan_item(rt, "main-lobby", ITEM, "staff:alex")
    assert scanned.door_open, scanned
    assert held(rt) == {}
    door = scanned.compartment
    assert door is not None
    bank.put_item(door)
    assert bank.close_door(door)

    # 3. The patron is told.
    with unit_of_work(rt.sessions) as s:
        [note] = s.scalars(
            select(NotificationRow).where(NotificationRow.kind == "ready_for_pickup")
        ).all()
    assert note.patron == PATRON and note.bank_id == "main-lobby"

    # 4. Pickup with card + PIN: verified and checked out over SIP2, the door opens.
    picked = pickup_with_card(rt, "main-lobby", PATRON, PIN)
    assert picked.outcome is PickupOutcome.OPENED, picked
    assert acs.catalogue.item(ITEM).charged_to == PATRON  # type: ignore[union-attr]
    bank.take_item(door)
    bank.close_door(door)

    # 5. Returned through a return compartment; the worker checks it in over SIP2.
    returning = open_return_door(rt, "main-lobby", ITEM)
    assert returning.opened is not None
    bank.put_item(returning.opened)
    bank.close_door(returning.opened)
    work(rt)

    with unit_of_work(rt.sessions) as s:
        deposit = s.scalars(select(DepositRow)).one()
        loan = s.scalars(select(IllRequestRow)).one()
    assert deposit.ils_confirmed_at is not None
    assert acs.catalogue.item(ITEM).charged_to is None  # type: ignore[union-attr]

    # 6. CheckInItem reached the partner: schema-valid, naming the item.
    [told] = partner.received
    assert_schema_valid(told.body)
    sent = parse_request(told.body)
    assert isinstance(sent, CheckInItemRequest) and sent.item == ITEM
    assert told.headers.get("X-NCIP-Secret") == PARTNER_SECRET
    assert (loan.state, loan.patron) == ("closed", None)
