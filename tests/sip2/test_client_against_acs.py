"""Our client against the reference ACS over real TCP: every message, faults and quirks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sip2.acs.server import ReferenceACS
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from sip2.errors import IlsUnavailable, LoginRefused
from sip2.results import AlertType, CirculationStatus, Summary
from tests.sip2.acs.support import (
    ANA,
    BEN,
    BOOK_HOLD_HERE,
    EAST_BOOK,
    LOANED,
    NOW,
    PLAIN,
    WAITING,
    small_catalogue,
)

MAIN = SipAccount("lockers-main", "demo-main", location="MAIN-LOCKER", institution="DEMO")
RETURNED = datetime(2025, 3, 9, 18, 30, tzinfo=UTC)


@pytest.fixture(params=["koha", "evergreen"])
def acs(request: pytest.FixtureRequest) -> Iterator[ReferenceACS]:
    with ReferenceACS(small_catalogue(), behaviour=request.param, clock=lambda: NOW) as server:
        yield server


def config(acs: ReferenceACS, **over: object) -> ServerConfig:
    host, port = acs.address
    settings: dict[str, object] = {
        "host": host,
        "port": port,
        "request_timeout": 2.0,
        "heartbeat_interval": None,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
    }
    settings.update(over)
    return ServerConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture(params=[False, True], ids=["plain", "checksums"])
def client(acs: ReferenceACS, request: pytest.FixtureRequest) -> Iterator[SipClient]:
    with SipClient.for_server(config(acs, error_detection=request.param), MAIN) as sip:
        yield sip


def test_login_and_sc_status(client: SipClient) -> None:
    assert client.login().ok is True
    status = client.sc_status()
    assert status.online is True and status.checkin_ok is True
    assert status.supported_messages is not None and {"09", "11", "17"} <= status.supported_messages


def test_patron_information_checks_the_pin_and_lists_holds(client: SipClient) -> None:
    good = client.patron_information(BEN, pin="2345", summary=Summary.HOLD_ITEMS)
    bad = client.patron_information(ANA, pin="0000")
    assert (good.valid_patron, good.pin_valid, bad.pin_valid) == (True, True, False)
    assert good.hold_items_count == 1  # the waiting one; Ben's others are not available yet
    assert WAITING in good.hold_items
    assert good.personal_name


def test_patron_status(client: SipClient) -> None:
    status = client.patron_status(BEN, pin="2345")
    assert status.valid_patron is True and status.pin_valid is True
    assert client.patron_status("nobody").valid_patron is False


def test_item_information_of_an_item_on_the_hold_shelf(client: SipClient) -> None:
    info = client.item_information(WAITING)
    assert info.circulation_status is CirculationStatus.WAITING_ON_HOLD_SHELF
    assert (
        info.hold_pickup_date is not None
        and info.hold_pickup_date.date().isoformat() == "2025-03-17"
    )
    assert info.title == "Ficciones"


def test_checkin_captures_a_hold_for_this_locker_bank(client: SipClient) -> None:
    result = client.checkin(BOOK_HOLD_HERE, location="MAIN-LOCKER", returned_at=RETURNED)
    assert result.alert_type is AlertType.HOLD_HERE
    assert result.destination_location == "MAIN-LOCKER"
    assert result.hold_patron_id == ANA


def test_checkin_of_an_item_owned_elsewhere_is_routed(client: SipClient) -> None:
    result = client.checkin(LOANED, location="EAST-LOCKER", returned_at=RETURNED)
    assert result.alert_type in (AlertType.HOLD_ELSEWHERE, AlertType.TRANSFER)
    assert result.destination_location == "MAIN-LOCKER"


def test_checkout_renew_and_end_session(client: SipClient) -> None:
    out = client.checkout(BEN, PLAIN, pin="2345")
    assert out.ok is True and out.due_date is not None
    renewed = client.renew(BEN, PLAIN, pin="2345")
    assert renewed.item_id == PLAIN
    assert client.end_patron_session(BEN).ended is True


def test_checkout_of_an_item_held_for_someone_else_is_refused(client: SipClient) -> None:
    result = client.checkout(BEN, BOOK_HOLD_HERE, pin="2345")
    assert result.ok is False
    assert result.screen_messages


def test_a_wrong_sip_password_is_login_refused(acs: ReferenceACS) -> None:
    wrong = SipAccount("lockers-main", "nope", location="MAIN-LOCKER", institution="DEMO")
    with SipClient.for_server(config(acs), wrong) as sip, pytest.raises(LoginRefused):
        sip.sc_status()


def test_the_client_comes_back_after_an_ils_outage(acs: ReferenceACS) -> None:
    with SipClient.for_server(config(acs), MAIN) as sip:
        sip.sc_status()
        acs.go_down()
        with pytest.raises(IlsUnavailable):
            sip.item_information(EAST_BOOK)
        acs.come_back()
        deadline = time.monotonic() + 5
        while True:
            try:
                assert sip.item_information(EAST_BOOK).item_id == EAST_BOOK
                break
            except IlsUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_heartbeat_outlives_the_acs_idle_timeout(acs: ReferenceACS) -> None:
    acs.faults.idle_timeout = 0.8
    with SipClient.for_server(config(acs, heartbeat_interval=0.15), MAIN) as sip:
        sip.sc_status()
        time.sleep(1.6)  # twice the idle timeout, with margins for a loaded machine
        sip.item_information(PLAIN)
        assert sip.pool.stats()["connects"] == 1  # the first connection lived throughout
