"""Sign-in, sessions, CSRF, headers and roles of the staff pages (Flask test client)."""

from __future__ import annotations

import time

from sqlalchemy import select

from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.web.security import SESSION_KEY
from tests.web.conftest import csrf_from, sign_in


def test_status_page_sends_the_security_headers(client, accounts):
    sign_in(client, accounts[Role.STAFF])
    resp = client.get("/staff/")
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    assert resp.headers["Cache-Control"] == "no-store"


def test_pages_redirect_to_sign_in_when_nobody_is_signed_in(client, accounts):
    resp = client.get("/staff/work")
    assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client, accounts):
    page = client.get("/staff/login").get_data(as_text=True)
    token = csrf_from(page)
    wrong = client.post("/staff/login", data={"username": "staff-1", "password": "nope nope nope", "csrf_token": token})
    unknown = client.post("/staff/login", data={"username": "ghost", "password": "nope nope nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "not right" in wrong.get_data(as_text=True)
    assert "not right" in unknown.get_data(as_text=True)


def test_five_failures_lock_the_account_even_for_the_right_password(client, accounts):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    for _ in range(5):
        client.post("/staff/login", data={"username": "staff-1", "password": "wrong password!", "csrf_token": token})
    resp = client.post("/staff/login", data={"username": "staff-1", "password": accounts[Role.STAFF].password, "csrf_token": token})
    assert resp.status_code == 429
    assert "Too many failed sign-ins" in resp.get_data(as_text=True)


def test_an_admin_is_not_signed_in_before_giving_the_authenticator_code(client, accounts):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    resp = client.post("/staff/login", data={"username": "admin-1", "password": accounts[Role.ADMIN].password, "csrf_token": token})
    assert "/staff/login/code" in resp.headers["Location"]
    assert client.get("/staff/").status_code == 302
    page = client.get("/staff/login/code").get_data(as_text=True)
    bad = client.post("/staff/login/code", data={"code": "000000", "csrf_token": csrf_from(page)})
    assert bad.status_code == 401
    good = client.post("/staff/login/code", data={"code": accounts[Role.ADMIN].totp.now(), "csrf_token": csrf_from(page)})
    assert good.status_code == 302
    assert client.get("/staff/").status_code == 200


def test_an_authenticator_code_cannot_be_used_twice(app, accounts):
    first, second = app.test_client(), app.test_client()
    code = accounts[Role.ADMIN].totp.now()
    for c in (first, second):
        token = csrf_from(c.get("/staff/login").get_data(as_text=True))
        c.post("/staff/login", data={"username": "admin-1", "password": accounts[Role.ADMIN].password, "csrf_token": token})
    token = csrf_from(first.get("/staff/login/code").get_data(as_text=True))
    assert first.post("/staff/login/code", data={"code": code, "csrf_token": token}).status_code == 302
    token = csrf_from(second.get("/staff/login/code").get_data(as_text=True))
    assert second.post("/staff/login/code", data={"code": code, "csrf_token": token}).status_code == 401


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client, accounts, rt):
    sign_in(client, accounts[Role.STAFF])
    resp = client.post("/staff/banks/main-lobby/2/service", data={"out": "1", "reason": "forged"})
    assert resp.status_code == 400
    assert "Nothing was changed" in resp.get_data(as_text=True)
    with unit_of_work(rt.sessions) as s:
        state = s.scalar(select(CompartmentRow.state).where(CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 2))
    assert state == "free"


def test_signing_out_ends_the_session_on_the_server(client, accounts, rt):
    sign_in(client, accounts[Role.STAFF])
    cookie = client.get_cookie("lockerbridge_session").value
    token = csrf_from(client.get("/staff/").get_data(as_text=True))
    client.post("/staff/logout", data={"csrf_token": token})
    client.set_cookie("lockerbridge_session", cookie)  # an attacker replays the old cookie
    assert client.get("/staff/").status_code == 302


def test_an_idle_session_expires_and_polling_does_not_keep_it_alive(client, accounts, rt):
    sign_in(client, accounts[Role.STAFF])
    (key,) = rt.redis.keys(SESSION_KEY.format(sid="*"))
    rt.redis.expire(key, 3)
    client.get("/staff/fragments/health", headers={"X-Lockerbridge-Poll": "1"})
    assert rt.redis.ttl(key) <= 3
    rt.redis.delete(key)  # what Redis does when the idle time runs out
    assert client.get("/staff/fragments/health", headers={"X-Lockerbridge-Poll": "1"}).status_code == 401
    assert client.get("/staff/").status_code == 302


def test_a_session_ends_after_the_absolute_limit_even_when_busy(client, accounts, rt):
    sign_in(client, accounts[Role.STAFF])
    (key,) = rt.redis.keys(SESSION_KEY.format(sid="*"))
    rt.redis.hset(key, "started_at", time.time() - rt.settings.web.session_absolute_hours * 3600 - 1)
    assert client.get("/staff/").status_code == 302


def test_a_viewer_may_look_but_not_change(client, accounts):
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/banks/main-lobby/2").get_data(as_text=True)
    assert "Take out of service" not in page
    resp = client.post("/staff/banks/main-lobby/2/service", data={"out": "1", "csrf_token": csrf_from(page)})
    assert resp.status_code == 403
    assert client.get("/staff/audit").status_code == 403


def test_sign_in_redirects_only_to_staff_pages(client, accounts):
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    resp = client.post("/staff/login", data={"username": "staff-1", "password": accounts[Role.STAFF].password, "csrf_token": token, "next": "https://evil.example/"})
    assert resp.headers["Location"].endswith("/staff/")


def _set_account(rt, username, **values):
    from sqlalchemy import update

    from bridge.storage.tables.staff import StaffUserRow

    with unit_of_work(rt.sessions) as s:
        s.execute(update(StaffUserRow).where(StaffUserRow.username == username).values(**values))


def test_a_deactivated_account_is_signed_out_at_its_next_request(client, accounts, rt):
    sign_in(client, accounts[Role.STAFF])
    assert client.get("/staff/").status_code == 200
    _set_account(rt, "staff-1", active=False)
    assert client.get("/staff/").status_code == 302
    assert rt.redis.keys(SESSION_KEY.format(sid="*")) == []  # the session itself is gone
    _set_account(rt, "staff-1", active=True)
    assert client.get("/staff/").status_code == 302  # re-enabling does not revive it


def test_a_role_change_takes_effect_at_the_next_request(client, accounts, rt):
    sign_in(client, accounts[Role.STAFF])
    assert client.get("/staff/audit").status_code == 200
    _set_account(rt, "staff-1", role="viewer")
    assert client.get("/staff/audit").status_code == 403
    assert "(viewer)" in client.get("/staff/").get_data(as_text=True)


def test_failed_sign_ins_grow_the_wait_and_never_keep_an_unknown_typed_name(client, accounts, rt):
    from bridge.storage.tables.core import AuditEventRow

    token = csrf_from(client.get("/staff/login").get_data(as_text=True))

    def attempt(username, password):
        return client.post(
            "/staff/login", data={"username": username, "password": password, "csrf_token": token}
        )

    # Two typos cost nothing; the third failure makes the account wait.
    assert attempt("staff-1", "wrong password 1").status_code == 401
    assert attempt("staff-1", "wrong password 2").status_code == 401
    assert attempt("staff-1", "wrong password 3").status_code == 401
    blocked = attempt("staff-1", accounts[Role.STAFF].password)
    assert blocked.status_code == 429 and "Try again in 2 second(s)" in blocked.get_data(as_text=True)
    time.sleep(2.1)
    assert attempt("staff-1", accounts[Role.STAFF].password).status_code == 302
    # A password typed into the name field is not kept.
    token = csrf_from(client.get("/staff/login").get_data(as_text=True))
    assert attempt("correct horse battery", "x").status_code == 401
    with unit_of_work(rt.sessions) as s:
        actors = [e.actor for e in s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "staff_sign_in_failed"))]
    assert actors == ["staff:staff-1"] * 3 + ["staff:(unknown name)"]


def test_an_administrator_disables_demotes_and_re_enrols_accounts_from_the_accounts_page(app, accounts, rt):
    import pyotp

    staff, admin = app.test_client(), app.test_client()
    sign_in(staff, accounts[Role.STAFF])
    sign_in(admin, accounts[Role.ADMIN])
    assert staff.get("/staff/accounts").status_code == 403  # administrators only
    page = admin.get("/staff/accounts").get_data(as_text=True)
    assert "Disable staff-1" in page and "Accounts" in page
    from bridge.services.staff.accounts import get_user
    from bridge.storage.tables.staff import StaffUserRow

    with unit_of_work(rt.sessions) as s:
        ids = {r.username: r.id for r in s.scalars(select(StaffUserRow))}
    staff_id = ids["staff-1"]

    def change(action, **extra):
        token = csrf_from(admin.get("/staff/accounts").get_data(as_text=True))
        return admin.post(f"/staff/accounts/{staff_id}", data={"action": action, "csrf_token": token, **extra})

    assert change("role", role="viewer").status_code == 302
    assert staff.get("/staff/audit").status_code == 403  # demoted at its next request
    assert change("disable").status_code == 302
    assert staff.get("/staff/").status_code == 302  # signed out at once
    assert change("enable").status_code == 302
    shown = change("new_totp").get_data(as_text=True)
    uri = shown.split('id="totp-uri">')[1].split("<")[0].replace("&amp;", "&")
    totp = pyotp.parse_uri(uri)
    from bridge.services.staff.accounts import verify_totp

    with unit_of_work(rt.sessions) as s:
        assert verify_totp(s, staff_id, totp.now(), settings=rt.settings)
        assert get_user(s, staff_id).role is Role.VIEWER
    # An administrator cannot lock themselves out.
    token = csrf_from(admin.get("/staff/accounts").get_data(as_text=True))
    own = admin.post(f"/staff/accounts/{ids['admin-1']}", data={"action": "disable", "csrf_token": token}, follow_redirects=True)
    assert "cannot disable your own account" in own.get_data(as_text=True)
    from bridge.storage.tables.core import AuditEventRow

    with unit_of_work(rt.sessions) as s:
        changes = [e.detail["change"] for e in s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "staff_account_changed"))]
    assert changes == ["role", "disable", "enable", "new_totp"]
