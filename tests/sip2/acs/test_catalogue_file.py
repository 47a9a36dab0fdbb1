"""Loading catalogues from JSON, including the demo's sample catalogue."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sip2.acs.catalogue import HoldState, ItemStatus
from sip2.acs.catalogue_file import CatalogueError, catalogue_from_dict, load_catalogue
from tests.sip2.acs.support import catalogue_data

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "catalogue.json"


def test_the_sample_catalogue_has_two_locker_banks_with_one_sip_account_each() -> None:
    cat = load_catalogue(SAMPLE)
    banks = {b.code for b in cat.branches.values() if b.locker_bank}
    assert banks == {"MAIN-LOCKER", "EAST-LOCKER"}
    assert {a.location for a in cat.accounts.values()} >= banks
    assert cat.accounts["lockers-main"].password == "demo-main"
    assert any(p.blocked for p in cat.patrons.values())
    assert any(p.fines > cat.fine_limit for p in cat.patrons.values())
    assert any(i.fee > 0 for i in cat.items.values())
    assert {h.pickup for h in cat.holds.values()} >= banks
    assert cat.transits


def test_the_sample_catalogue_documents_its_credentials() -> None:
    about = json.loads(SAMPLE.read_text(encoding="utf-8"))["_about"]
    assert "lockers-main / demo-main" in about and "lockers-east / demo-east" in about


def test_records_are_read_with_their_types() -> None:
    cat = catalogue_from_dict(catalogue_data())
    assert cat.patrons["23000000000006"].fines == Decimal("12.50")
    assert cat.items["39000000000003"].status is ItemStatus.CHARGED
    assert cat.holds["H4"].state is HoldState.WAITING
    assert cat.accounts["lenient"].checked_in_ok


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d["items"].append({"barcode": "x", "title": "t", "home": "NOWHERE"}),
        lambda d: d["holds"].append(
            {"patron": "nobody", "item": "39000000000001", "pickup": "MAIN"}
        ),
        lambda d: d["items"][3].update(status="charged"),
        lambda d: d["items"].append({"barcode": "x"}),
        lambda d: d["items"][0].update(status="teleported"),
    ],
    ids=["unknown branch", "unknown patron", "charged without patron", "no title", "bad status"],
)
def test_a_malformed_entry_is_reported(breakage: Callable[[dict[str, Any]], None]) -> None:
    data = catalogue_data()
    breakage(data)
    with pytest.raises(CatalogueError):
        catalogue_from_dict(data)


def test_a_file_that_is_not_json_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(CatalogueError):
        load_catalogue(path)
