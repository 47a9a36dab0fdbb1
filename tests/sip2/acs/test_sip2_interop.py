"""An independent SIP2 client (PyPI ``Sip2``, a port of a widely used PHP client) against our ACS.

If a client we did not write can log in, look up patrons and items, check out and check in,
the reference server speaks SIP2 the way others expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Sip2.sip2 import Sip2

from sip2.acs.server import ReferenceACS
from tests.sip2.acs.support import ANA, BEN, LOANED, PLAIN


@pytest.fixture
def sip2_client(acs: ReferenceACS, tmp_path: Path) -> Iterator[Any]:
    client = Sip2()
    client.logfile_path = str(tmp_path)  # it writes sip2.log (requests included) there
    client.hostName, client.hostPort = acs.address
    client.tlsEnable = False
    client.institutionId = "DEMO"
    client.scLocation = "MAIN-LOCKER"
    client.loglevel = "CRITICAL"
    client.connect()
    yield client
    client.disconnect()
    for handler in list(client.log.handlers):  # its logger is global: leave it as we found it
        client.log.removeHandler(handler)
        handler.close()


def _ask(client: Any, request: str, parse: Any) -> dict[str, Any]:
    result: dict[str, Any] = parse(client.get_response(request))
    return result


def test_the_independent_client_logs_in_and_reads_the_status(sip2_client: Any) -> None:
    c = sip2_client
    login = _ask(c, c.sip_login_request("lockers-main", "demo-main"), c.sip_login_response)
    assert login["fixed"]["Ok"] == "1"
    status = _ask(c, c.sip_sc_status_request(), c.sip_sc_status_response)
    assert status["fixed"]["OnlineStatus"] == "Y"
    assert status["fixed"]["CheckinOk"] == "Y"
    assert status["fixed"]["ProtocolVersion"] == "2.00"
    assert status["variable"]["AO"] == ["DEMO"]


def test_the_independent_client_refused_login_reads_ok_0(sip2_client: Any) -> None:
    c = sip2_client
    assert (
        _ask(c, c.sip_login_request("lockers-main", "x"), c.sip_login_response)["fixed"]["Ok"]
        == "0"
    )


def test_the_independent_client_reads_patron_information(sip2_client: Any) -> None:
    c = sip2_client
    _ask(c, c.sip_login_request("lockers-main", "demo-main"), c.sip_login_response)
    c.patron, c.patronpwd = ANA, "1234"
    info = _ask(c, c.sip_patron_information_request("hold"), c.sip_patron_information_response)
    assert info["variable"]["BL"] == ["Y"]
    assert info["variable"]["CQ"] == ["Y"]
    assert info["variable"]["AE"] == ["Ana Tester"]
    assert info["variable"]["BE"] == ["ana@example.org"]
    assert info["fixed"]["UnavailableHoldsCount"] == "0002"


def test_the_independent_client_reads_item_information(sip2_client: Any) -> None:
    c = sip2_client
    _ask(c, c.sip_login_request("lockers-main", "demo-main"), c.sip_login_response)
    item = _ask(c, c.sip_item_information_request(LOANED), c.sip_item_information_response)
    assert item["fixed"]["CirculationStatus"] == "04"
    assert item["variable"]["AJ"] == ["Dune"]
    assert item["variable"]["AH"] == ["20250301    235900"]


def test_the_independent_client_checks_out_and_checks_in(
    acs: ReferenceACS, sip2_client: Any
) -> None:
    c = sip2_client
    _ask(c, c.sip_login_request("lockers-main", "demo-main"), c.sip_login_response)
    c.patron, c.patronpwd = BEN, "2345"
    out = _ask(c, c.sip_checkout_request(PLAIN), c.sip_checkout_response)
    assert out["fixed"]["Ok"] == "1"
    assert out["variable"]["AB"] == [PLAIN]
    assert acs.catalogue.items[PLAIN].charged_to == BEN

    back = _ask(c, c.sip_checkin_request(LOANED), c.sip_checkin_response)
    assert back["fixed"]["Ok"] == "1"
    assert back["fixed"]["Alert"] == "Y"
    assert back["variable"]["CV"] == ["01"]
    assert back["variable"]["CY"] == [ANA]
    assert acs.ledger.loans_closed(LOANED) == 1
