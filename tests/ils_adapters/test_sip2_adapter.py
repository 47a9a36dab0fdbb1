"""The SIP2 adapter against the reference ACS over real TCP, for each ILS behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ils_adapters.base import (
    CheckinKind,
    IlsAdapter,
    IlsUnavailable,
    ProfileMismatch,
    lent_to,
)
from ils_adapters.profiles import EVERGREEN, FOLIO, KOHA, IlsProfile
from ils_adapters.sip2_adapter import Sip2Adapter
from sip2.acs.catalogue import Account, Branch, Catalogue, Hold, Item, ItemStatus, Patron
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from tests.ils_adapters.contract import NOW, IlsContract, World

BANK, MAIN = "LOCKER1", "MAIN"


@dataclass
class AcsSeeder:
    """Puts test data into the reference ACS's catalogue, under the engine's lock."""

    acs: ReferenceACS

    def add_patron(
        self,
        barcode: str,
        pin: str,
        *,
        block_reasons: tuple[str, ...] = (),
        email: str | None = None,
        phone: str | None = None,
        language: str | None = None,
    ) -> None:
        patron = Patron(
            barcode,
            pin,
            "Test",
            "Patron",
            email or "",
            phone or "",
            language or "en",
            blocked=bool(block_reasons),
        )
        with self.acs.engine.lock:
            self.acs.catalogue.put(patron)

    def add_item(
        self, barcode: str, *, home: str, title: str = "", fee: Decimal | None = None
    ) -> None:
        item = Item(barcode, title or f"Item {barcode}", home, at=home, fee=fee or Decimal(0))
        with self.acs.engine.lock:
            self.acs.catalogue.put(item)

    def place_hold(self, patron: str, item: str, *, pickup_location: str) -> None:
        with self.acs.engine.lock:
            cat = self.acs.catalogue
            cat.put(
                Hold(
                    cat.next_hold_id(), patron, pickup_location, item=item, placed=cat.next_placed()
                )
            )

    def lend(self, patron: str, item: str) -> None:
        with self.acs.engine.lock:
            cat = self.acs.catalogue
            found = cat.item(item)
            assert found is not None
            due = datetime.now(UTC) + timedelta(days=21)
            cat.put(replace(found, status=ItemStatus.CHARGED, charged_to=patron, due=due))


def _catalogue() -> Catalogue:
    cat = Catalogue(institution="DEMO")
    cat.branches = {
        BANK: Branch(BANK, "Locker bank 1", locker_bank=True),
        MAIN: Branch(MAIN, "Main"),
    }
    cat.accounts = {"locker1": Account("locker1", "pw", "DEMO", BANK)}
    return cat


def _adapter(acs: ReferenceACS, profile: IlsProfile) -> Iterator[Sip2Adapter]:
    host, port = acs.address
    client = SipClient.for_server(
        ServerConfig(host, port, request_timeout=2.0, heartbeat_interval=None),
        SipAccount("locker1", "pw", location=BANK, institution="DEMO"),
    )
    try:
        yield Sip2Adapter(client, profile)
    finally:
        client.close()


class TestSip2AdapterOnKohaBehaviour(IlsContract):
    @pytest.fixture
    def world(self) -> Iterator[World]:
        with ReferenceACS(_catalogue(), behaviour="koha") as acs:
            for adapter in _adapter(acs, KOHA):
                yield World(adapter=adapter, seed=AcsSeeder(acs), bank=BANK, main=MAIN)


class TestSip2AdapterOnEvergreenBehaviour(IlsContract):
    @pytest.fixture
    def world(self) -> Iterator[World]:
        with ReferenceACS(_catalogue(), behaviour="evergreen") as acs:
            for adapter in _adapter(acs, EVERGREEN):
                yield World(adapter=adapter, seed=AcsSeeder(acs), bank=BANK, main=MAIN)


class TestSip2AdapterOnFolioBehaviour(IlsContract):
    @pytest.fixture
    def world(self) -> Iterator[World]:
        with ReferenceACS(_catalogue(), behaviour="folio") as acs:
            for adapter in _adapter(acs, FOLIO):
                yield World(adapter=adapter, seed=AcsSeeder(acs), bank=BANK, main=MAIN)


@pytest.fixture
def koha() -> Iterator[tuple[ReferenceACS, Sip2Adapter]]:
    with ReferenceACS(_catalogue(), behaviour="koha") as acs:
        for adapter in _adapter(acs, KOHA):
            yield acs, adapter


def test_a_loan_far_down_a_paged_list_of_charged_items_is_found() -> None:
    """A server that sends 10 charged items per 64: the adapter reads on from BP=11, so a
    lost checkout reply for a patron with many loans is still settled as theirs."""
    with ReferenceACS(_catalogue(), behaviour="koha", modes=Modes(list_page=10)) as acs:
        seed = AcsSeeder(acs)
        seed.add_patron("P1", "1234")
        seed.add_patron("P2", "2345")
        mine = [f"I{n:02d}" for n in range(25)]
        for barcode in [*mine, "OTHER"]:
            seed.add_item(barcode, home=MAIN)
        for barcode in mine:
            seed.lend("P1", barcode)
        seed.lend("P2", "OTHER")
        for adapter in _adapter(acs, KOHA):
            assert adapter.loans_of("P1") == tuple(mine)
            assert lent_to(adapter, "P1", mine[-1])[0] is True
            assert lent_to(adapter, "P1", "OTHER")[0] is False
            assert adapter.loans_of("P2") == ("OTHER",)


def test_the_sip2_adapter_satisfies_the_adapter_protocol(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    assert isinstance(koha[1], IlsAdapter)


def test_a_capture_reports_the_hold_shelf_expiry_from_item_information(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    acs, adapter = koha
    seed = AcsSeeder(acs)
    seed.add_patron("P1", "1234")
    seed.add_item("I1", home=MAIN)
    seed.place_hold("P1", "I1", pickup_location=BANK)

    outcome = adapter.checkin("I1", at=BANK, returned_at=NOW)

    assert outcome.kind is CheckinKind.HOLD_HERE and outcome.hold_expires is not None
    assert outcome.hold_expires.date() >= datetime.now(UTC).date() + timedelta(days=6)


def test_the_check_in_is_backdated_to_the_deposit_time(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    acs, adapter = koha
    seed = AcsSeeder(acs)
    seed.add_patron("P1", "1234")
    seed.add_item("I1", home=BANK)
    seed.lend("P1", "I1")

    adapter.checkin("I1", at=BANK, returned_at=NOW)

    (entry,) = acs.ledger.checkins("I1")
    assert entry.return_date == NOW and entry.loan_closed


def test_the_hold_patron_name_never_leaves_the_adapter(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    acs, adapter = koha
    seed = AcsSeeder(acs)
    seed.add_patron("P1", "1234")
    seed.add_item("I1", home=MAIN)
    seed.place_hold("P1", "I1", pickup_location=BANK)

    outcome = adapter.checkin("I1", at=BANK, returned_at=NOW)

    assert "Test Patron" not in repr(outcome)


def test_a_down_ils_fails_the_ping_and_raises_unavailable_on_work(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    acs, adapter = koha
    assert adapter.ping()
    acs.go_down()

    assert adapter.ping() is False
    with pytest.raises(IlsUnavailable):
        adapter.item_status("I1")


def test_the_profile_check_passes_against_a_matching_acs(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    acs, adapter = koha
    AcsSeeder(acs).add_item("TEST", home=MAIN)

    adapter.check_profile(test_item="TEST")


def test_the_profile_check_names_each_mismatch(koha: tuple[ReferenceACS, Sip2Adapter]) -> None:
    acs, adapter = koha
    wrong = Sip2Adapter(adapter.client, FOLIO)  # FOLIO sends no hold count; Koha does
    AcsSeeder(acs).add_item("TEST", home=MAIN)

    with pytest.raises(ProfileMismatch) as caught:
        wrong.check_profile(test_item="TEST")
    with pytest.raises(ProfileMismatch) as missing:
        adapter.check_profile(test_item="NOSUCH")

    assert "hold count" in str(caught.value)
    assert "NOSUCH" in str(missing.value)


def test_an_account_without_checkin_rights_is_reported(
    koha: tuple[ReferenceACS, Sip2Adapter],
) -> None:
    acs, adapter = koha
    with acs.engine.lock:
        acs.catalogue.accounts["locker1"] = Account("locker1", "pw", "DEMO", BANK, checkin=False)

    with pytest.raises(ProfileMismatch, match="check items in"):
        adapter.check_profile()
