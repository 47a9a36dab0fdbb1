"""Card readers and mapped credentials reporting through the locker driver, end to end against
the reference SIP2 server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.access import readers
from sip2.acs.server import ReferenceACS
from tests.access.conftest import (
    ANA,
    ANA_ITEM,
    ANA_PIN,
    access_config,
    audits,
    load_hold,
    sim,
)


@pytest.fixture
def access_settings(tmp_path: Path, acs: ReferenceACS, request: pytest.FixtureRequest) -> Settings:
    cfg = access_config(
        tmp_path,
        acs,
        credential_map=[{"scheme": "palm", "credential": "hand-0042", "card": ANA}],
    )
    cfg["banks"][0]["require_pin_with_reader"] = getattr(request, "param", True)
    return load_settings(None, **cfg)


def test_a_card_read_asks_for_the_pin_and_the_pickup_runs_as_for_a_typed_card(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)

    sim(rt).present_card(ANA)

    shown = readers.last_result(rt, "main-lobby")
    assert shown is not None and shown.outcome is readers.ReaderOutcome.NEEDS_PIN
    assert not sim(rt).is_open(door)
    wrong = readers.finish_with_pin(rt, "main-lobby", "0000")
    assert wrong.outcome is readers.ReaderOutcome.DENIED and not sim(rt).is_open(door)

    sim(rt).present_card(ANA)
    done = readers.finish_with_pin(rt, "main-lobby", ANA_PIN)

    assert done.outcome is readers.ReaderOutcome.OPENED, done
    assert sim(rt).is_open(door)
    assert acs.engine.catalogue.item(ANA_ITEM).charged_to == ANA
    assert ANA not in str([a.detail for a in audits(rt, "card_read")])


@pytest.mark.parametrize("access_settings", [False], indirect=True)
def test_a_bank_that_trusts_its_reader_opens_after_the_ils_knows_the_card(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)

    sim(rt).present_card(ANA)

    shown = readers.last_result(rt, "main-lobby")
    assert shown is not None and shown.outcome is readers.ReaderOutcome.OPENED, shown
    assert sim(rt).is_open(door)
    assert acs.engine.catalogue.item(ANA_ITEM).charged_to == ANA


@pytest.mark.parametrize("access_settings", [False], indirect=True)
def test_a_card_the_ils_does_not_know_is_refused_clearly_and_audited(rt: Runtime) -> None:
    door = load_hold(rt, ANA_ITEM)

    sim(rt).present_card("23999999999999")

    shown = readers.last_result(rt, "main-lobby")
    assert shown is not None and shown.outcome is readers.ReaderOutcome.UNKNOWN_CARD
    assert not sim(rt).is_open(door)
    [refusal] = audits(rt, "reader_refused")
    assert refusal.detail["reason"] == "unknown_card"


@pytest.mark.parametrize("access_settings", [False], indirect=True)
def test_a_blocked_card_at_the_reader_opens_nothing(rt: Runtime) -> None:
    sim(rt).present_card("23000000000005")
    shown = readers.last_result(rt, "main-lobby")
    assert shown is not None and shown.outcome is readers.ReaderOutcome.BLOCKED


@pytest.mark.parametrize("access_settings", [False], indirect=True)
def test_a_verified_palm_credential_maps_to_the_card_and_an_unmapped_one_is_refused(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)

    sim(rt).present_card("palm:hand-9999", reader="palm-1")
    shown = readers.last_result(rt, "main-lobby")
    assert shown is not None and shown.outcome is readers.ReaderOutcome.UNKNOWN_CREDENTIAL
    assert audits(rt, "reader_refused")[0].detail["reason"] == "unknown_credential"

    sim(rt).present_card("palm:hand-0042", reader="palm-1")

    assert sim(rt).is_open(door)
    assert acs.engine.catalogue.item(ANA_ITEM).charged_to == ANA


@pytest.mark.parametrize("access_settings", [False], indirect=True)
def test_staff_can_enrol_an_app_credential_for_a_card(rt: Runtime) -> None:
    door = load_hold(rt, ANA_ITEM)
    readers.enrol_credential(rt, "app", "device-77", ANA, actor="staff:ann")

    sim(rt).present_card("app:device-77", reader="app")

    assert sim(rt).is_open(door)
    assert audits(rt, "credential_enrolled")[0].actor == "staff:ann"
