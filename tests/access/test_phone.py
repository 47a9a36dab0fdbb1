"""Phone links with kiosk presence codes, end to end against the reference SIP2 server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.access import phone, presence
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.access import PhoneLinkRow
from sip2.acs.server import ReferenceACS
from tests.access.conftest import ANA, ANA_ITEM, access_config, audits, load_hold, phone_link, sim
from tests.support.clock import Clock


def test_presence_codes_change_every_window_and_differ_between_banks() -> None:
    key = b"k" * 32
    from datetime import UTC, datetime

    at = datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC)
    code = presence.current_code(key, "main-lobby", at, 60)
    assert len(code) == 6 and code.isdigit()
    assert presence.current_code(key, "main-lobby", at + timedelta(seconds=50), 60) == code
    assert presence.current_code(key, "main-lobby", at + timedelta(seconds=60), 60) != code
    assert presence.current_code(key, "east-station", at, 60) != code
    banks = ["main-lobby", "east-station"]
    check = presence.check
    assert check(key, "main-lobby", code, at + timedelta(seconds=70), 60, banks).presence == "here"
    assert check(key, "main-lobby", code, at + timedelta(minutes=3), 60, banks).presence == "old"
    east = presence.current_code(key, "east-station", at, 60)
    found = check(key, "main-lobby", east, at, 60, banks)
    assert (found.presence, found.other_bank) == ("other_bank", "east-station")


def test_a_link_token_has_128_random_bits_and_only_its_keyed_hash_is_stored(rt: Runtime) -> None:
    token = phone_link(rt)
    body, tag = token.split(".")
    assert len(body) >= 22  # 16 bytes in URL-safe base64
    with unit_of_work(rt.sessions) as s:
        [row] = s.query(PhoneLinkRow).all()
        assert token not in row.token_hash and body not in row.token_hash
    forged = body + "." + ("A" * len(tag))
    assert phone.view(rt, forged).state is phone.LinkState.UNKNOWN


def test_the_phone_opens_the_locker_only_with_the_number_on_this_banks_screen(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    shown = phone.view(rt, token)
    assert shown.state is phone.LinkState.LIVE and shown.doors == (door,)

    east_code, _ = phone.kiosk_code(rt, "east-station")
    refused = phone.open_from_phone(rt, token, east_code)
    assert refused.outcome is phone.PhoneOutcome.NOT_HERE
    assert (refused.other_bank, refused.bank) == ("East station", "Main Library lobby")
    assert not sim(rt).is_open(door)

    code, _ = phone.kiosk_code(rt, "main-lobby")
    result = phone.open_from_phone(rt, token, code)

    assert result.outcome is phone.PhoneOutcome.OPENED, result
    assert result.opened == (door,) and sim(rt).is_open(door)
    assert acs.engine.catalogue.item(ANA_ITEM).charged_to == ANA  # checked out before opening
    [refusal] = audits(rt, "phone_presence_refused")
    assert refusal.detail["reason"] == "other_bank"
    assert audits(rt, "item_checked_out")[0].detail["via"] == "phone"


def test_a_number_from_an_old_minute_is_refused_with_a_clear_message(
    rt: Runtime, clock: Clock
) -> None:
    load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    old, _ = phone.kiosk_code(rt, "main-lobby")
    clock.advance(minutes=3)

    result = phone.open_from_phone(rt, token, old)

    assert result.outcome is phone.PhoneOutcome.NOT_HERE
    assert result.number is presence.Presence.OLD
    assert audits(rt, "phone_presence_refused")[0].detail["reason"] == "old"


def test_a_used_link_cannot_be_replayed(rt: Runtime) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    code, _ = phone.kiosk_code(rt, "main-lobby")
    assert phone.open_from_phone(rt, token, code).outcome is phone.PhoneOutcome.OPENED
    sim(rt).take_item(door)
    sim(rt).close_door(door)

    again = phone.open_from_phone(rt, token, code)

    assert again.outcome is phone.PhoneOutcome.LINK_REFUSED
    assert again.link is phone.LinkState.USED
    assert audits(rt, "phone_link_refused")[0].detail["reason"] == "replayed"


def test_an_expired_link_is_refused_and_audited(rt: Runtime, clock: Clock) -> None:
    load_hold(rt, ANA_ITEM)
    token = phone_link(rt, days=1)
    clock.advance(days=2)
    code, _ = phone.kiosk_code(rt, "main-lobby")

    result = phone.open_from_phone(rt, token, code)

    assert result.outcome is phone.PhoneOutcome.LINK_REFUSED
    assert result.link is phone.LinkState.EXPIRED
    assert audits(rt, "phone_link_refused")[0].detail["reason"] == "expired"


def test_five_wrong_numbers_lock_the_link(rt: Runtime) -> None:
    door = load_hold(rt, ANA_ITEM)
    token = phone_link(rt)
    for _ in range(5):
        assert phone.open_from_phone(rt, token, "000000").outcome is phone.PhoneOutcome.NOT_HERE
    code, _ = phone.kiosk_code(rt, "main-lobby")

    result = phone.open_from_phone(rt, token, code)

    assert result.outcome is phone.PhoneOutcome.LOCKED_OUT
    assert not sim(rt).is_open(door)


def test_the_ready_for_pickup_message_carries_a_phone_link_kept_secret_like_the_code(
    rt: Runtime,
) -> None:
    from tests.access.conftest import messages

    load_hold(rt, ANA_ITEM)

    [note] = messages(rt)
    assert note.secrets is not None
    url = str(note.secrets["phone_url"])
    assert url.startswith("http://lockers.test/phone/")
    assert "phone_url" not in note.facts  # blanked with the code once sent
    assert phone.view(rt, url.rsplit("/", 1)[1]).state is phone.LinkState.LIVE


def test_presence_numbers_come_from_their_own_key_when_one_is_set(
    tmp_path: Path, acs: ReferenceACS, redis_conn: Any, clock: Clock
) -> None:
    def runtime(name: str, **security: Any) -> Runtime:
        cfg = access_config(tmp_path / name, acs, security=security)
        (tmp_path / name).mkdir()
        engine = make_engine(cfg["database_url"])
        upgrade(engine)
        built = assemble(Runtime.over(load_settings(None, **cfg), engine, redis_conn, clock))
        sync_banks(built)
        return built

    presence_key = "presence-key-0123456789abcdef0123456789"
    first = runtime("a", code_keys=["code-key-one-0123456789abcdef"], presence_key=presence_key)
    rotated = runtime("b", code_keys=["code-key-two-0123456789abcdef"], presence_key=presence_key)
    derived = runtime("c", code_keys=["code-key-one-0123456789abcdef"])
    try:
        shown, _ = phone.kiosk_code(first, "main-lobby")
        # The code keys rotate; the number on the kiosk screen does not.
        assert phone.kiosk_code(rotated, "main-lobby")[0] == shown
        # Without its own key the number comes from the first code key, and differs.
        assert phone.kiosk_code(derived, "main-lobby")[0] != shown

        load_hold(first, ANA_ITEM)
        token = phone_link(first)
        result = phone.open_from_phone(first, token, shown)
        assert result.outcome is phone.PhoneOutcome.OPENED, result
    finally:
        for built in (first, rotated, derived):
            built.close()
