"""Attacks on a live server, over real HTTP, 50 attackers at once per probe (docs/access.md,
"Guessing limits"). Each probe prints its figure and asserts it exactly against the limit."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from bridge.services.access import kiosks
from bridge.services.access.verification import CARD_RUN
from bridge.storage.db import unit_of_work
from bridge.storage.tables.access import DayUseRow
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow
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

    before = _door_state(live)
    statuses = [c for codes in attack(ATTACKERS, probe) for c in codes]
    figure(
        live,
        "kiosk requests from unenrolled browsers answered 403",
        f"{statuses.count(403)}/{len(statuses)}",
    )
    assert statuses == [403] * len(statuses)
    assert _door_state(live) == before  # no door opened, nothing loaded, reserved or audited


def _door_state(live: Live) -> tuple[object, ...]:
    with unit_of_work(live.rt.sessions) as s:
        return (
            tuple(s.scalars(select(CompartmentRow.number).where(CompartmentRow.door_open))),
            s.scalar(select(func.count()).select_from(LoadRow)),
            s.scalar(select(func.count()).select_from(DayUseRow)),
            s.scalar(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.actor == "patron")  # anything a patron's request did
            ),
        )


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


STAFF_PASSWORD = "correct horse battery staple"


def _account(live: Live, name: str, role: str) -> Any:
    import pyotp

    from bridge.services.staff.accounts import Role, add_user

    with unit_of_work(live.rt.sessions) as s:
        _, uri = add_user(
            s, name, STAFF_PASSWORD, Role(role), totp=role == "admin", settings=live.settings
        )
    return pyotp.parse_uri(uri) if uri else None


def _sign_in(live: Live, name: str, totp: Any = None) -> requests.Session:
    browser = live.browser()
    resp = live.form_post(
        browser,
        "/staff/login",
        {"username": name, "password": STAFF_PASSWORD},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text[-300:]
    if totp is not None:
        resp = live.form_post(
            browser, "/staff/login/code", {"code": totp.now()}, allow_redirects=False
        )
        assert resp.status_code == 302, resp.text[-300:]
    return browser


def test_parallel_wrong_staff_passwords_are_evaluated_at_most_the_limit(live: Live) -> None:
    from bridge.web.security import ACCOUNT_FAILURES

    _account(live, "probe-staff", "staff")

    def guess(i: int) -> list[int]:
        browser = live.browser()
        return [
            live.form_post(
                browser,
                "/staff/login",
                {"username": "probe-staff", "password": f"wrong {i} {k}"},
                allow_redirects=False,
            ).status_code
            for k in range(2)
        ]

    statuses = [c for codes in attack(ATTACKERS, guess) for c in codes]
    right = live.form_post(
        live.browser(),
        "/staff/login",
        {"username": "probe-staff", "password": STAFF_PASSWORD},
        allow_redirects=False,
    )
    evaluated = _audits_by_actor(live, "staff_sign_in_failed", "staff:probe-staff")
    figure(live, "wrong staff passwords evaluated (of 100 sent)", evaluated)
    figure(live, "the right password right after", right.status_code)
    assert statuses.count(500) == 0 and right.status_code != 500
    assert 1 <= evaluated <= ACCOUNT_FAILURES
    assert statuses.count(401) == evaluated  # every other attempt was refused unverified


def _audits_by_actor(live: Live, kind: str, actor: str) -> int:
    with unit_of_work(live.rt.sessions) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.kind == kind, AuditEventRow.actor == actor)
            )
            or 0
        )


def test_a_deactivated_accounts_session_is_refused_at_once_by_every_process(live: Live) -> None:
    from sqlalchemy import update

    from bridge.storage.tables.staff import StaffUserRow

    _account(live, "probe-leaver", "staff")
    browser = _sign_in(live, "probe-leaver")
    assert browser.get(f"{live.url}/staff/", timeout=60, allow_redirects=False).status_code == 200
    cookies = browser.cookies.get_dict()
    with unit_of_work(live.rt.sessions) as s:
        s.execute(
            update(StaffUserRow).where(StaffUserRow.username == "probe-leaver").values(active=False)
        )

    def use(i: int) -> int:
        return requests.get(
            f"{live.url}/staff/", cookies=cookies, timeout=60, allow_redirects=False
        ).status_code

    statuses = attack(ATTACKERS, use)
    figure(
        live,
        "requests of a deactivated account's session refused",
        f"{statuses.count(302)}/{ATTACKERS}",
    )
    assert statuses == [302] * ATTACKERS


def test_parallel_remote_unlocks_stop_at_the_hourly_limit(live: Live) -> None:
    from datetime import UTC, datetime

    limit = live.settings.web.remote_unlocks_per_hour
    with unit_of_work(live.rt.sessions) as s:
        for _ in range(limit - 1):  # 9 of 10 spent already
            s.add(
                AuditEventRow(
                    at=datetime.now(UTC),
                    kind="remote_unlock",
                    bank_id="main-lobby",
                    compartment=1,
                    actor="staff:earlier",
                    detail={"outcome": "opened"},
                )
            )
    admins = []
    for n in range(10):
        totp = _account(live, f"probe-admin-{n}", "admin")
        admins.append((_sign_in(live, f"probe-admin-{n}", totp), totp))

    def unlock(i: int) -> int:
        browser, totp = admins[i % len(admins)]
        import time

        door = 1 + i % 10
        return live.form_post(
            browser,
            f"/staff/banks/main-lobby/{door}/unlock",
            {"reason": "probe: keys left inside", "code": totp.at(time.time() + 30)},
            form=f"/staff/banks/main-lobby/{door}",
            allow_redirects=False,
        ).status_code

    statuses = attack(ATTACKERS, unlock)
    with unit_of_work(live.rt.sessions) as s:
        opened = [
            e
            for e in s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "remote_unlock"))
            if e.actor != "staff:earlier"
        ]
    figure(live, f"remote unlocks carried out at {limit - 1} of {limit} (50 sent)", len(opened))
    assert statuses.count(500) == 0
    assert len(opened) == 1


def test_resend_answers_are_byte_identical_for_cards_with_and_without_waiting_items(
    live: Live,
) -> None:
    import re

    from bridge.services.loading import ScanOutcome, scan_item
    from bridge.services.wiring import driver_for

    waiting, nothing = PATRONS[0][0], PATRONS[1][0]
    loaded = scan_item(live.rt, "main-lobby", "39000000000001", "staff:probe")  # Ana's hold
    assert loaded.outcome is ScanOutcome.DOOR_OPEN and loaded.compartment is not None
    sim = driver_for(live.rt, "main-lobby")
    sim.put_item(loaded.compartment)  # type: ignore[attr-defined]
    assert sim.close_door(loaded.compartment)  # type: ignore[attr-defined]
    tokens = [_kiosk(live, f"probe resend kiosk {i}") for i in range(ATTACKERS)]

    def resend(i: int) -> tuple[int, str]:
        card = waiting if i % 2 else nothing
        resp = live.form_post(
            live.browser(tokens[i]), "/kiosk/main-lobby/newcode", {"card": card, "action": "resend"}
        )
        # Each browser has its own CSRF token; everything else must be the same bytes.
        return resp.status_code, re.sub(r'name="csrf_token" value="[^"]+"', "", resp.text)

    answers = attack(ATTACKERS, resend)
    figure(live, "distinct resend answers (waiting vs nothing, 50 sent)", len(set(answers)))
    assert len(set(answers)) == 1 and answers[0][0] == 200
    with unit_of_work(live.rt.sessions) as s:
        revoked = s.scalar(
            select(func.count())
            .select_from(AccessGrantRow)
            .where(AccessGrantRow.revoked_at.is_not(None))
        )
    assert revoked == 0  # resending revoked nothing
