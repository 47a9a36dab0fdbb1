"""Attacks on a live server, over real HTTP, 50 attackers at once per probe (docs/access.md,
"Guessing limits"). Each probe prints its figure and asserts it exactly against the limit."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from bridge.access import kiosks
from bridge.access.verification import CARD_RUN
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import DayUseRow
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.lockers import LoadRow
from tests.security.conftest import (
    ATTACKERS,
    CARD,
    CODE_BUDGET,
    DAYUSE_DOORS,
    PATRONS,
    PIN,
    Live,
    attack,
    figure,
)

pytestmark = pytest.mark.security


def _audits(live: Live, kind: str, **detail: str) -> int:
    with unit_of_work(live.rt.sessions) as s:
        rows = s.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind)).all()
        return sum(1 for r in rows if all(r.detail.get(k) == v for k, v in detail.items()))


def _kiosk(live: Live, name: str) -> str:
    return kiosks.enrol(live.rt, "main-lobby", name, actor="staff:probe")[1]


def test_parallel_pin_guesses_on_one_card_reach_the_ils_at_most_the_limit(live: Live) -> None:
    token = _kiosk(live, "probe pin kiosk")
    before = live.relay.wrong_pins(PIN)

    def guess(i: int) -> list[int]:
        browser = live.browser(token)
        codes = []
        for k in range(2):
            wrong = f"{(i * 2 + k) % 10000:04d}"
            wrong = "9999" if wrong == PIN else wrong
            resp = live.form_post(
                browser, "/kiosk/main-lobby/pickup/card", {"card": CARD, "pin": wrong}
            )
            codes.append(resp.status_code)
        return codes

    statuses = [c for codes in attack(ATTACKERS, guess) for c in codes]
    reached = live.relay.wrong_pins(PIN) - before
    right = live.form_post(
        live.browser(token), "/kiosk/main-lobby/pickup/card", {"card": CARD, "pin": PIN}
    )
    figure(live, "wrong PINs that reached the ILS (of 100 sent)", reached)
    figure(live, "HTTP 500 answers", statuses.count(500))
    assert statuses.count(500) == 0 and right.status_code != 500
    assert 1 <= reached <= CARD_RUN[0]
    assert "Too many tries" in right.text and right.status_code == 422
    assert live.relay.pins[PIN] == 0  # the right PIN never reached the ILS either


def test_code_guesses_from_50_kiosks_stop_at_the_banks_budget(live: Live) -> None:
    tokens = [_kiosk(live, f"probe code kiosk {i}") for i in range(ATTACKERS)]

    def guess(i: int) -> list[int]:
        browser = live.browser(tokens[i])
        return [
            live.form_post(
                browser,
                "/kiosk/main-lobby/pickup/code",
                {"code": f"{secrets.randbelow(10**6):06d}"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for _ in range(3)
        ]

    statuses = [c for codes in attack(ATTACKERS, guess) for c in codes]
    evaluated = _audits(live, "patron_verify_failed", via="code")
    figure(live, "code guesses evaluated (of 150 sent from 50 kiosks)", evaluated)
    assert statuses.count(500) == 0
    assert evaluated == CODE_BUDGET
    assert _audits(live, "code_guessing_alert") == 1


def test_every_kiosk_route_from_an_unenrolled_browser_opens_nothing(live: Live) -> None:
    posts = [
        ("pickup/card", {"card": CARD, "pin": PIN}),
        ("pickup/code", {"code": "123456"}),
        ("pickup/qr", {"qr": "x" * 20}),
        ("return", {"item": "39000000000001"}),
        ("equipment", {"card": CARD, "pin": PIN, "category": "laptop"}),
        ("dayuse", {"card": CARD, "pin": PIN, "hours": "1"}),
        ("newcode", {"card": CARD, "pin": PIN}),
        ("reader", {"pin": PIN}),
        ("simulate/close", {"number": "1", "handling": "take"}),
    ]

    def probe(i: int) -> list[int]:
        browser = live.browser("forged-token" if i % 2 else None)
        token = live.form_post(browser, "/staff/login", {}).status_code  # a session + CSRF
        assert token != 500
        out = []
        for path, data in posts:
            out.append(live.form_post(browser, f"/kiosk/main-lobby/{path}", data).status_code)
        out.append(browser.get(f"{live.url}/kiosk/main-lobby", timeout=60).status_code)
        out.append(
            browser.get(f"{live.url}/kiosk/main-lobby/presence.json", timeout=60).status_code
        )
        return out

    statuses = [c for codes in attack(ATTACKERS, probe) for c in codes]
    with unit_of_work(live.rt.sessions) as s:
        opened = s.scalar(
            select(func.count()).select_from(CompartmentRow).where(CompartmentRow.door_open)
        )
        deposits = s.scalar(select(func.count()).select_from(LoadRow))
        reservations = s.scalar(select(func.count()).select_from(DayUseRow))
    figure(
        live,
        "kiosk requests from unenrolled browsers answered 403",
        f"{statuses.count(403)}/{len(statuses)}",
    )
    assert statuses == [403] * len(statuses)
    assert (opened, deposits, reservations) == (0, 0, 0)


def test_a_revoked_kiosk_is_refused_at_once_by_every_process(live: Live) -> None:
    token = _kiosk(live, "probe revoked kiosk")
    assert live.browser(token).get(f"{live.url}/kiosk/main-lobby", timeout=60).status_code == 200
    device = next(d for d in kiosks.devices(live.rt) if d.name == "probe revoked kiosk")
    assert kiosks.revoke(live.rt, device.id, actor="staff:probe")
    statuses = attack(
        ATTACKERS,
        lambda i: live.browser(token).get(f"{live.url}/kiosk/main-lobby", timeout=60).status_code,
    )
    figure(
        live,
        "requests with a revoked kiosk token refused",
        f"{statuses.count(403)}/{len(statuses)}",
    )
    assert statuses == [403] * ATTACKERS


def test_parallel_day_use_reservations_keep_per_patron_and_one_per_door(live: Live) -> None:
    token = _kiosk(live, "probe day-use kiosk")

    def reserve(i: int) -> int:
        card, pin = PATRONS[i % len(PATRONS)]
        return live.form_post(
            live.browser(token),
            "/kiosk/main-lobby/dayuse",
            {"card": card, "pin": pin, "hours": "1"},
        ).status_code

    statuses = attack(ATTACKERS, reserve)
    with unit_of_work(live.rt.sessions) as s:
        active = s.execute(
            select(DayUseRow.patron_ref, DayUseRow.compartment).where(DayUseRow.state == "active")
        ).all()
    per_patron = max((sum(1 for p, _ in active if p == ref) for ref, _ in active), default=0)
    per_door = max((sum(1 for _, d in active if d == door) for _, door in active), default=0)
    figure(live, "active day-use reservations (2 doors, 3 patrons, per_patron 1)", len(active))
    assert statuses.count(500) == 0
    assert len(active) == len(DAYUSE_DOORS)  # both doors taken, by two different patrons
    assert per_patron == 1 and per_door == 1
