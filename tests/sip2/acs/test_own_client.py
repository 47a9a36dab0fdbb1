"""Our own SIP2 client (:mod:`sip2.client`) against the reference ACS, over TCP.

Together with the independent ``Sip2`` client test this pins both sides to one reading of
SIP2, and shows the fault switches as our client sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sip2.acs.server import ReferenceACS
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from sip2.errors import OutcomeUnknown
from sip2.results import AlertType, CirculationStatus
from tests.sip2.acs.support import ANA, BEN, LOANED, PLAIN


@pytest.fixture
def ours(acs: ReferenceACS) -> Iterator[SipClient]:
    host, port = acs.address
    server = ServerConfig(host, port, request_timeout=3, heartbeat_interval=None)
    account = SipAccount("lockers-main", "demo-main", "MAIN-LOCKER", "DEMO")
    with SipClient.for_server(server, account) as client:
        yield client


def test_our_client_verifies_a_pin_and_reads_the_patron(ours: SipClient) -> None:
    info = ours.patron_information(ANA, pin="1234")
    assert (info.valid_patron, info.pin_valid) == (True, True)
    assert info.email == "ana@example.org"
    assert ours.patron_information(ANA).pin_valid is None


def test_our_client_loads_a_returned_item_into_its_hold(acs: ReferenceACS, ours: SipClient) -> None:
    returned = datetime(2025, 3, 9, 18, 30, tzinfo=UTC)
    result = ours.checkin(LOANED, location="MAIN-LOCKER", returned_at=returned)
    assert result.ok and result.alert_type is AlertType.HOLD_HERE
    assert (result.destination_location, result.hold_patron_id) == ("MAIN-LOCKER", ANA)
    assert acs.ledger.checkins(LOANED)[0].return_date == returned
    info = ours.item_information(LOANED)
    assert info.circulation_status is CirculationStatus.WAITING_ON_HOLD_SHELF


def test_our_client_checks_out(ours: SipClient) -> None:
    result = ours.checkout(BEN, PLAIN, pin="2345")
    assert result.ok and result.due_date is not None


def test_our_client_reports_a_dropped_checkin_reply_as_outcome_unknown(
    acs: ReferenceACS, ours: SipClient
) -> None:
    ours.sc_status()
    acs.faults.drop_replies = 1
    with pytest.raises(OutcomeUnknown):
        ours.checkin(LOANED, location="MAIN-LOCKER", returned_at=datetime.now(UTC))
    assert acs.ledger.loans_closed(LOANED) == 1
