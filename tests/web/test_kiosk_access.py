"""Access beyond the keypad at the patron kiosk, over the Flask test client: the presence number
on the bank's own kiosk, the PIN after a card read, a new pickup code, day-use lockers, and the
simulated door close; plus the staff pages that go with them (kiosk enrolment, code re-issue).

Real services throughout: the in-memory ILS behind the ILS port, simulated doors wired to the
event handling, SQLite and embedded Redis.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.access.phone import kiosk_code
from bridge.services.pickup import PickupOutcome, pickup_with_code
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import DayUseRow
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from tests.support.clock import Clock
from tests.web.conftest import (
    csrf_from,
    enrol_kiosk,
    load_for_pickup,
    sign_in,
    web_config,
)

CARD, PIN = "21000001", "4321"
BLOCKED, BLOCKED_PIN = "21000009", "9090"
DAYUSE_DOORS = [11, 12]


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    cfg = web_config(tmp_path)
    cfg["access"] = {"public_url": "http://lockers.test"}
    cfg["dayuse"] = {
        "compartments": {"main-lobby": DAYUSE_DOORS, "east-station": [4]},
        "max_hours": 4,
        "per_patron": 1,
    }
    return load_settings(None, **cfg)


@pytest.fixture
def kiosk(client: FlaskClient) -> FlaskClient:
    """The bank's own kiosk browser (the ``client`` fixture is enrolled for main-lobby)."""
    return client


KIOSK_COOKIE_NAME = "lb_kiosk"


def _kiosk_of(client: FlaskClient, rt: Runtime, bank_id: str) -> FlaskClient:
    client.set_cookie(KIOSK_COOKIE_NAME, enrol_kiosk(rt, bank_id))
    return client


def _post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    page = client.get(path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_from(page)})


def _audit(rt: Runtime, kind: str) -> list[AuditEventRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind)))
        s.expunge_all()
        return rows


def _shown_code(html: str) -> str:
    m = re.search(r'id="presence-digits">(\d{3}) (\d{3})<', html)
    assert m, "no presence number on the page"
    return m.group(1) + m.group(2)


# --- presence number ---------------------------------------------------------------------------


def test_the_banks_kiosk_shows_the_current_presence_number_large_and_labelled(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    html = kiosk.get("/kiosk/main-lobby").get_data(as_text=True)
    code, _ = kiosk_code(rt, "main-lobby")
    assert _shown_code(html) == code
    assert f"Number for your phone: {' '.join(code)}" in html  # what a screen reader says
    assert "Open with your phone" in html
    assert f"/phone/here/main-lobby?code={code}" not in html  # the QR is an image, not a link
    assert 'alt="QR code that opens your pickup page on your phone"' in html
    assert "reader.json" in html  # the screen watches the card reader


def test_the_presence_number_changes_with_the_minute_and_the_screen_fetches_the_new_one(
    kiosk: FlaskClient, rt: Runtime, clock: Clock, ils: Any, doors: Any
) -> None:
    first = kiosk.get("/kiosk/main-lobby/presence.json").get_json()
    clock.advance(seconds=rt.settings.access.presence_window_seconds + 1)
    second = kiosk.get("/kiosk/main-lobby/presence.json").get_json()
    assert first["code"] != second["code"]
    assert second["code"] == kiosk_code(rt, "main-lobby")[0]
    assert second["display"] == f"{second['code'][:3]} {second['code'][3:]}"
    assert 0 < second["seconds_left"] <= 60
    assert second["qr"].startswith("data:image/svg+xml")


def test_any_other_browser_is_told_the_kiosk_is_not_enrolled_and_nothing_runs(
    stranger: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    page = stranger.get("/kiosk/main-lobby")
    html = page.get_data(as_text=True)
    code, _ = kiosk_code(rt, "main-lobby")
    assert page.status_code == 403 and "This kiosk is not enrolled" in html
    assert code not in html and "Pick up my items" not in html
    for path in ("/presence.json", "/reader.json", "/reader", "/pickup/code", "/dayuse", "/newcode"):
        assert stranger.get(f"/kiosk/main-lobby{path}").status_code == 403, path
    assert stranger.get("/phone/presence/main-lobby").status_code == 403
    stranger.set_cookie(KIOSK_COOKIE_NAME, "a-guess")
    assert stranger.get("/kiosk/main-lobby").status_code == 403
    # The token of one bank's kiosk does not make a browser the kiosk of another.
    stranger.set_cookie(KIOSK_COOKIE_NAME, enrol_kiosk(rt, "main-lobby"))
    assert stranger.get("/kiosk/main-lobby").status_code == 200
    assert stranger.get("/kiosk/east-station").status_code == 403
    assert stranger.get("/kiosk/nowhere").status_code == 404


def test_an_administrator_enrols_the_kiosk_browser_and_is_signed_out_of_it(
    stranger: FlaskClient, rt: Runtime, accounts: Any, ils: Any, doors: Any
) -> None:
    from bridge.storage.tables.access import KioskDeviceRow

    sign_in(stranger, accounts[Role.ADMIN])
    status = stranger.get("/staff/").get_data(as_text=True)
    assert "/staff/banks/main-lobby/kiosk" in status
    page = stranger.get("/staff/banks/main-lobby/kiosk").get_data(as_text=True)
    assert "Make this browser the kiosk of Main Library lobby" in page
    nameless = stranger.post("/staff/banks/main-lobby/kiosk", data={"csrf_token": csrf_from(page)})
    assert nameless.status_code == 422 and "lb_kiosk" not in nameless.headers.get("Set-Cookie", "")
    resp = stranger.post(
        "/staff/banks/main-lobby/kiosk",
        data={"csrf_token": csrf_from(page), "name": "Lobby screen", "mode": "browser"},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/kiosk/main-lobby")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    html = stranger.get("/kiosk/main-lobby").get_data(as_text=True)
    assert _shown_code(html) == kiosk_code(rt, "main-lobby")[0]
    assert stranger.get("/staff/").status_code == 302  # no staff session left on the kiosk
    assert [e.actor for e in _audit(rt, "kiosk_enrolled")] == ["staff:admin-1"]
    with unit_of_work(rt.sessions) as s:
        stored = [r.token_hash for r in s.scalars(select(KioskDeviceRow))]
    assert len(stored) == 1 and token not in stored  # only its hash is kept


def test_a_kiosk_program_gets_its_token_once_and_a_revoked_kiosk_is_refused_at_once(
    stranger: FlaskClient, client: FlaskClient, rt: Runtime, accounts: Any, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000799")
    sign_in(stranger, accounts[Role.ADMIN])
    page = stranger.get("/staff/banks/main-lobby/kiosk").get_data(as_text=True)
    shown = stranger.post(
        "/staff/banks/main-lobby/kiosk",
        data={"csrf_token": csrf_from(page), "name": "Self-check app", "mode": "program"},
    ).get_data(as_text=True)
    token = re.search(r'id="kiosk-token">([^<]+)<', shown).group(1)  # type: ignore[union-attr]
    assert token not in stranger.get("/staff/kiosks").get_data(as_text=True)
    app_page = client.get("/kiosk/main-lobby/pickup/code", headers={"X-Lockerbridge-Kiosk": token})
    assert app_page.status_code == 200
    # Staff (not only administrators) list and revoke kiosks.
    sign_in(client, accounts[Role.STAFF])
    listing = client.get("/staff/kiosks").get_data(as_text=True)
    assert "Self-check app" in listing and "Test kiosk" in listing
    from bridge.services.access.kiosks import devices

    device = next(d for d in devices(rt) if d.name == "Self-check app")
    resp = client.post(
        f"/staff/kiosks/{device.id}/revoke", data={"csrf_token": csrf_from(listing)}
    )
    assert resp.status_code == 302
    form = client.get("/kiosk/main-lobby/pickup/code").get_data(as_text=True)
    refused = client.post(
        "/kiosk/main-lobby/pickup/code",
        data={"code": loaded.code, "csrf_token": csrf_from(form)},
        headers={"X-Lockerbridge-Kiosk": token},
    )
    assert refused.status_code == 403 and "This kiosk is not enrolled" in refused.get_data(as_text=True)
    assert not doors["main-lobby"].is_open(loaded.compartment)
    assert [e.actor for e in _audit(rt, "kiosk_revoked")] == ["staff:staff-1"]


def test_only_administrators_enrol_kiosks(client: FlaskClient, rt: Runtime, accounts: Any) -> None:
    sign_in(client, accounts[Role.STAFF])
    assert client.get("/staff/banks/main-lobby/kiosk").status_code == 403
    sign_in(client, accounts[Role.VIEWER])
    assert client.get("/staff/banks/main-lobby/kiosk").status_code == 403
    assert client.get("/staff/kiosks").status_code == 403


# --- card reader, then the PIN at the kiosk ----------------------------------------------------


def test_a_card_read_leads_to_the_pin_prompt_and_the_right_pin_opens_the_door(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000701", title="Parable of the Sower")
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}
    doors["main-lobby"].present_card(CARD, reader="front-rfid")
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "waiting_for_pin"}
    prompt = kiosk.get("/kiosk/main-lobby/reader").get_data(as_text=True)
    assert "Your card was read. Type your PIN to open your locker." in prompt
    assert 'name="card"' not in prompt  # the card came from the reader

    resp = _post(kiosk, "/kiosk/main-lobby/reader", {"pin": PIN})

    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"Door {loaded.compartment} is open" in html
    assert doors["main-lobby"].is_open(loaded.compartment)
    with unit_of_work(rt.sessions) as s:
        state = s.scalar(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == loaded.compartment
            )
        )
    assert state == "picked_up"
    # The screen has shown the result: the start screen stays where it is.
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}


def test_a_wrong_pin_after_a_card_read_opens_nothing_says_so_and_is_audited(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000702")
    doors["main-lobby"].present_card(CARD)
    resp = _post(kiosk, "/kiosk/main-lobby/reader", {"pin": "0000"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "was not accepted" in html and "hold your card to the reader again" in html
    assert not doors["main-lobby"].is_open(loaded.compartment)
    assert len(_audit(rt, "patron_verify_failed")) == 1
    # The card no longer waits: the PIN cannot be guessed again without the card.
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}
    token = csrf_from(kiosk.get("/kiosk/main-lobby/pickup/card").get_data(as_text=True))
    again = kiosk.post("/kiosk/main-lobby/reader", data={"pin": PIN, "csrf_token": token})
    assert again.status_code == 422 and "Hold your card to the reader again" in again.get_data(as_text=True)
    assert not doors["main-lobby"].is_open(loaded.compartment)


def test_an_empty_pin_is_asked_for_again(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    doors["main-lobby"].present_card(CARD)
    resp = _post(kiosk, "/kiosk/main-lobby/reader", {"pin": ""})
    assert resp.status_code == 422 and "Please fill in every field." in resp.get_data(as_text=True)
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "waiting_for_pin"}


def test_cancel_on_the_pin_prompt_lets_the_card_go_and_the_start_screen_stays(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000704")
    doors["main-lobby"].present_card(CARD)
    prompt = kiosk.get("/kiosk/main-lobby/reader").get_data(as_text=True)
    assert "/kiosk/main-lobby/reader/cancel" in prompt
    resp = kiosk.post("/kiosk/main-lobby/reader/cancel", data={"csrf_token": csrf_from(prompt)})
    assert resp.status_code == 302 and "/kiosk/main-lobby" in resp.headers["Location"]
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}
    again = kiosk.post("/kiosk/main-lobby/reader", data={"pin": PIN, "csrf_token": csrf_from(prompt)})
    assert again.status_code == 422 and not doors["main-lobby"].is_open(loaded.compartment)


def test_an_unknown_credential_at_the_reader_is_shown_on_the_kiosk_in_spanish(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    doors["main-lobby"].present_card("palm:not-enrolled", reader="palm-1")
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "result"}
    resp = kiosk.get("/kiosk/main-lobby/reader?lang=es")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "no está vinculado a un carné" in html and 'lang="es"' in html
    assert [e.detail["reason"] for e in _audit(rt, "reader_refused")] == ["unknown_credential"]
    assert kiosk.get("/kiosk/main-lobby/reader.json").get_json() == {"state": "idle"}


def test_the_reader_page_without_a_read_goes_back_to_the_start(
    kiosk: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    resp = kiosk.get("/kiosk/main-lobby/reader")
    assert resp.status_code == 302 and "/kiosk/main-lobby" in resp.headers["Location"]


def test_the_pin_cannot_be_sent_from_another_browser(
    stranger: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000703")
    doors["main-lobby"].present_card(CARD)
    token = csrf_from(stranger.get("/staff/login").get_data(as_text=True))
    resp = stranger.post("/kiosk/main-lobby/reader", data={"pin": PIN, "csrf_token": token})
    assert resp.status_code == 403
    assert not doors["main-lobby"].is_open(loaded.compartment)


# --- a new pickup code -------------------------------------------------------------------------


def test_card_and_pin_give_a_new_code_on_screen_and_the_old_one_stops_working(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000801")
    start = client.get("/kiosk/main-lobby").get_data(as_text=True)
    assert "/kiosk/main-lobby/newcode" in start and "Lost your code?" in start
    resp = _post(client, "/kiosk/main-lobby/newcode", {"card": CARD, "pin": PIN, "action": "new"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Here is your new pickup code" in html
    m = re.search(r'id="new-code">(\d{6,})<', html)
    assert m, html
    assert f"Your new pickup code: {' '.join(m.group(1))}" in html
    assert pickup_with_code(rt, "main-lobby", loaded.code).outcome is PickupOutcome.DENIED
    assert pickup_with_code(rt, "main-lobby", m.group(1)).opened == (loaded.compartment,)
    assert [e.detail["via"] for e in _audit(rt, "access_reissued")] == ["kiosk"]


def test_a_wrong_pin_gives_no_new_code_and_is_audited(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000802")
    resp = _post(client, "/kiosk/main-lobby/newcode", {"card": CARD, "pin": "1111"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "was not accepted" in html and 'id="new-code"' not in html
    assert pickup_with_code(rt, "main-lobby", loaded.code).opened == (loaded.compartment,)
    assert [(e.detail["via"], e.detail["reason"]) for e in _audit(rt, "patron_verify_failed")] == [
        ("reissue", "pin")
    ]


def test_new_codes_are_limited_per_day_and_the_limit_is_explained(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    load_for_pickup(rt, ils, doors, "31000803")
    for _ in range(rt.settings.access.reissues_per_patron_per_day):
        assert _post(client, "/kiosk/main-lobby/newcode", {"card": CARD, "pin": PIN}).status_code == 200
    resp = _post(client, "/kiosk/main-lobby/newcode?lang=es", {"card": CARD, "pin": PIN, "lang": "es"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "ya se le envió un código nuevo varias veces" in html
    assert [e.detail["reason"] for e in _audit(rt, "access_reissue_refused")] == ["patron_limit"]


def test_send_my_message_again_needs_only_the_card_and_never_shows_a_code(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    load_for_pickup(rt, ils, doors, "31000804")
    for card in (CARD, "29999999"):  # the same answer whether or not anything waits
        resp = _post(client, "/kiosk/main-lobby/newcode", {"card": card, "action": "resend"})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200
        assert "If something is waiting for this card here" in html and 'id="new-code"' not in html


def test_a_new_code_needs_the_pin(client: FlaskClient, rt: Runtime, ils: Any, doors: Any) -> None:
    resp = _post(client, "/kiosk/main-lobby/newcode", {"card": CARD, "pin": ""})
    assert resp.status_code == 422 and "Please fill in every field." in resp.get_data(as_text=True)


# --- day-use lockers ---------------------------------------------------------------------------


def _reservations(rt: Runtime) -> list[tuple[str, int, str]]:
    with unit_of_work(rt.sessions) as s:
        return [
            (r.bank_id, r.compartment, r.state)
            for r in s.scalars(select(DayUseRow).order_by(DayUseRow.id))
        ]


def test_a_patron_reserves_a_day_use_locker_at_the_kiosk_and_finishes(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    assert "Day-use locker" in client.get("/kiosk/main-lobby").get_data(as_text=True)
    form = client.get("/kiosk/main-lobby/dayuse").get_data(as_text=True)
    assert "4 hours" in form and "5 hours" not in form

    resp = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": PIN, "hours": "2"})

    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    door = _reservations(rt)[0][1]
    assert door in DAYUSE_DOORS and doors["main-lobby"].is_open(door)
    assert re.search(rf"Door {door} is yours until \d\d:\d\d", html)
    assert _audit(rt, "dayuse_reserved")[0].detail["via"] == "kiosk"
    doors["main-lobby"].close_door(door)

    done = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": PIN, "action": "finish"})
    assert done.status_code == 200 and "take your things" in done.get_data(as_text=True)
    assert doors["main-lobby"].is_open(door)
    assert _reservations(rt) == [("main-lobby", door, "ended")]


def test_a_blocked_card_cannot_reserve_and_is_told_why(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    ils.add_patron(BLOCKED, BLOCKED_PIN, block_reasons=("card expired",))
    resp = _post(client, "/kiosk/main-lobby/dayuse", {"card": BLOCKED, "pin": BLOCKED_PIN})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "cannot reserve a locker right now. To sort it out, ask at the library desk" in html
    assert not any(doors["main-lobby"].is_open(n) for n in DAYUSE_DOORS)
    assert _reservations(rt) == []
    assert [e.detail["reason"] for e in _audit(rt, "dayuse_refused")] == ["blocked"]
    es = _post(client, "/kiosk/main-lobby/dayuse?lang=es", {"card": BLOCKED, "pin": BLOCKED_PIN, "lang": "es"})
    assert "Su carné no puede reservar un casillero ahora" in es.get_data(as_text=True)


def test_day_use_over_the_limits_is_refused_with_the_rule(
    client: FlaskClient, stranger: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    too_long = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": PIN, "hours": "9"})
    assert too_long.status_code == 422
    assert "1 to 4 hours" in too_long.get_data(as_text=True)
    # One live reservation per patron, all banks together.
    east_kiosk = _kiosk_of(stranger, rt, "east-station")
    east = _post(east_kiosk, "/kiosk/east-station/dayuse", {"card": CARD, "pin": PIN, "hours": "1"})
    assert east.status_code == 200
    resp = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": PIN, "hours": "1"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "each person can have 1 at a time" in html
    assert not any(doors["main-lobby"].is_open(n) for n in DAYUSE_DOORS)
    assert [e.detail["reason"] for e in _audit(rt, "dayuse_refused")] == ["too_long", "per_patron"]
    es = _post(client, "/kiosk/main-lobby/dayuse?lang=es", {"card": CARD, "pin": PIN, "lang": "es"})
    assert "cada persona puede tener 1 a la vez" in es.get_data(as_text=True)


def test_day_use_with_a_wrong_pin_or_missing_fields(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    wrong = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": "0000"})
    assert wrong.status_code == 422 and "was not accepted" in wrong.get_data(as_text=True)
    empty = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": ""})
    assert empty.status_code == 422 and "Please fill in every field." in empty.get_data(as_text=True)
    assert [(e.detail["via"], e.detail["reason"]) for e in _audit(rt, "patron_verify_failed")] == [
        ("dayuse", "pin")
    ]
    assert _reservations(rt) == []


def test_a_bank_without_day_use_doors_says_so(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any, web_settings: Settings
) -> None:
    rt.settings.dayuse.compartments.pop("east-station")
    _kiosk_of(client, rt, "east-station")
    assert "Day-use locker" not in client.get("/kiosk/east-station").get_data(as_text=True)
    page = client.get("/kiosk/east-station/dayuse").get_data(as_text=True)
    assert "This locker has no day-use compartments." in page and 'name="pin"' not in page


# --- the simulated bank: the patron closes the door from the result page ------------------------


def test_on_a_simulated_bank_the_result_page_closes_the_door(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31000901")
    html = _post(client, "/kiosk/main-lobby/pickup/card", {"card": CARD, "pin": PIN}).get_data(as_text=True)
    assert f"Close door {loaded.compartment}" in html
    assert 'name="handling" value="take"' in html
    resp = client.post(
        "/kiosk/main-lobby/simulate/close",
        data={"number": loaded.compartment, "handling": "take", "csrf_token": csrf_from(html)},
    )
    assert resp.status_code == 302
    assert not doors["main-lobby"].is_open(loaded.compartment)
    assert doors["main-lobby"].items_in(loaded.compartment) == 0


def test_a_refusal_offers_no_door_to_close(client: FlaskClient, rt: Runtime, ils: Any, doors: Any) -> None:
    html = _post(client, "/kiosk/main-lobby/pickup/code", {"code": "000000"}).get_data(as_text=True)
    assert "simulate/close" not in html


# --- staff: re-issue from the door's page, day-use overview ------------------------------------


def test_staff_send_a_new_code_from_the_doors_page(
    client: FlaskClient, rt: Runtime, accounts: Any, ils: Any, doors: Any
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31001001")
    sign_in(client, accounts[Role.STAFF])
    page = client.get(f"/staff/banks/main-lobby/{loaded.compartment}").get_data(as_text=True)
    assert "New pickup code" in page and "/staff/access/reissue" in page
    resp = client.post(
        "/staff/access/reissue",
        data={
            "bank_id": "main-lobby",
            "compartment": loaded.compartment,
            "reason": "patron deleted the message",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 200 and "old code no longer works" in resp.get_data(as_text=True)
    assert pickup_with_code(rt, "main-lobby", loaded.code).outcome is PickupOutcome.DENIED
    # A free door has nobody to send a code to: no form.
    free = client.get("/staff/banks/main-lobby/2").get_data(as_text=True)
    assert "/staff/access/reissue" not in free


def test_the_staff_menu_leads_to_the_day_use_overview(
    client: FlaskClient, rt: Runtime, accounts: Any, ils: Any, doors: Any
) -> None:
    _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": PIN, "hours": "1"})
    sign_in(client, accounts[Role.VIEWER])
    assert "/staff/access/dayuse" in client.get("/staff/").get_data(as_text=True)
    overview = client.get("/staff/access/dayuse").get_data(as_text=True)
    assert "In use" in overview and "kiosk" in overview


def test_every_kiosk_route_refuses_an_unenrolled_browser_and_opens_nothing(
    stranger: FlaskClient, app: Any, rt: Runtime, ils: Any, doors: Any
) -> None:
    """Every route of the kiosk blueprint, found from the app's own URL map (so a route added
    later is covered too), posted with a valid CSRF token and fields that would open a door."""
    loaded = load_for_pickup(rt, ils, doors, "31000798")
    ils.add_item("39000798", home="CENTRAL")
    csrf = csrf_from(stranger.get("/staff/login").get_data(as_text=True))
    fields = {
        "csrf_token": csrf, "card": CARD, "pin": PIN, "code": loaded.code, "qr": loaded.qr_token,
        "item": "39000798", "hours": "1", "category": "laptop", "number": "1", "handling": "take",
    }
    seen = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("kiosk.") or rule.endpoint == "kiosk.enrol_with_token":
            continue
        path = rule.build({"bank_id": "main-lobby", "way": "code"}, append_unknown=False)[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            resp = stranger.open(path, method=method, data=fields if method == "POST" else None)
            assert resp.status_code == 403, (method, path, resp.status_code)
            assert "This kiosk is not enrolled" in resp.get_data(as_text=True)
            seen += 1
    assert seen >= 18
    assert not any(doors["main-lobby"].is_open(n) for n in range(1, 17))
    assert _reservations(rt) == []


def test_a_token_made_for_a_kiosk_program_typed_on_the_not_enrolled_page_enrols_the_browser(
    stranger: FlaskClient, rt: Runtime
) -> None:
    from bridge.services.access.kiosks import revoke

    token = enrol_kiosk(rt, "main-lobby", "Lobby screen")
    page = stranger.get("/kiosk/main-lobby").get_data(as_text=True)
    wrong = stranger.post(
        "/kiosk/main-lobby/enrol", data={"token": token[:-2], "csrf_token": csrf_from(page)}
    )
    assert wrong.status_code == 403 and "not a live kiosk token" in wrong.get_data(as_text=True)
    east = stranger.post(
        "/kiosk/east-station/enrol", data={"token": token, "csrf_token": csrf_from(page)}
    )
    assert east.status_code == 403
    right = stranger.post(
        "/kiosk/main-lobby/enrol", data={"token": token, "csrf_token": csrf_from(page)}
    )
    assert right.status_code == 302
    assert stranger.get("/kiosk/main-lobby").status_code == 200
    assert revoke(rt, 1, actor="staff:admin-1")
    assert stranger.get("/kiosk/main-lobby").status_code == 403


def test_kiosk_guessing_limits_key_on_the_device_not_the_address(
    client: FlaskClient, stranger: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    from bridge.services.access.verification import KIOSK_WINDOW

    form = client.get("/kiosk/main-lobby/pickup/code").get_data(as_text=True)

    def wrong(browser: FlaskClient, address: str) -> int:
        return browser.post(
            "/kiosk/main-lobby/pickup/code",
            data={"code": "000000", "csrf_token": csrf_from(form)},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    # One device from many addresses: one budget.
    statuses = [wrong(client, f"198.51.100.{n}") for n in range(KIOSK_WINDOW[0] + 1)]
    assert statuses[:-1] == [422] * KIOSK_WINDOW[0]
    last = client.post(
        "/kiosk/main-lobby/pickup/code", data={"code": "000001", "csrf_token": csrf_from(form)}
    )
    assert "Too many tries" in last.get_data(as_text=True)
    # Another enrolled device of the same bank still has its own.
    other = _kiosk_of(stranger, rt, "main-lobby")
    page = other.get("/kiosk/main-lobby/pickup/code").get_data(as_text=True)
    resp = other.post(
        "/kiosk/main-lobby/pickup/code", data={"code": "000002", "csrf_token": csrf_from(page)}
    )
    assert "This code did not open a locker" in resp.get_data(as_text=True)


def test_day_use_while_the_catalogue_is_marked_down_asks_to_come_back_later(
    client: FlaskClient, rt: Runtime, ils: Any, doors: Any
) -> None:
    from bridge.infra.ils_circuit import ils_of, mark_down

    mark_down(rt, ils_of(rt, "main-lobby"), "no answer to the ping")

    resp = _post(client, "/kiosk/main-lobby/dayuse", {"card": CARD, "pin": PIN, "hours": "2"})

    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "not answering right now, so no door opened" in html, html
    assert "Try again in a few minutes" in html
    assert not any(doors["main-lobby"].is_open(n) for n in DAYUSE_DOORS)
    assert _reservations(rt) == []
