"""The staff CLI prints decoded replies with PINs and names masked."""

from __future__ import annotations

import io

from sip2.acs.server import ReferenceACS
from sip2.cli import main
from tests.sip2.acs.support import ANA, LOANED, PLAIN


def run(acs: ReferenceACS, *args: str) -> tuple[int, str]:
    host, port = acs.address
    out = io.StringIO()
    common = ["--host", host, "--port", str(port), "--user", "lockers-main"]
    common += ["--password", "demo-main", "--location", "MAIN-LOCKER", "--institution", "DEMO"]
    status = main([args[0], *common, *args[1:]], out=out)
    return status, out.getvalue()


def test_ping_prints_the_acs_status(acs: ReferenceACS) -> None:
    status, text = run(acs, "ping")
    assert status == 0
    assert "AcsStatus" in text and "online" in text and "True" in text


def test_patron_says_whether_the_pin_was_accepted_and_masks_the_pin_and_the_name(
    acs: ReferenceACS,
) -> None:
    status, text = run(acs, "patron", ANA, "--pin", "1234")
    assert status == 0
    assert "1234" not in text and "Ana" not in text and "ana@example.org" not in text
    assert text.rstrip().endswith("PIN accepted")
    assert ANA in text
    status, text = run(acs, "patron", ANA, "--pin", "9999")
    assert status == 0 and "9999" not in text
    assert text.rstrip().endswith("PIN not accepted")


def test_item_checkin_and_checkout_print_typed_results(acs: ReferenceACS) -> None:
    assert "WAITING_ON_HOLD_SHELF" not in run(acs, "item", PLAIN)[1]
    status, text = run(acs, "checkin", LOANED)
    assert status == 0 and "HOLD_HERE" in text
    status, text = run(acs, "checkout", ANA, LOANED, "--pin", "1234")
    assert status == 0 and "CheckoutResult" in text and "1234" not in text


def test_an_unreachable_ils_exits_3() -> None:
    out = io.StringIO()
    assert main(["ping", "--host", "127.0.0.1", "--port", "1", "--timeout", "1"], out=out) == 3


def test_bad_usage_exits_2() -> None:
    assert main(["nonsense"]) == 2
