"""What staff change from the status page: remote unlock, service toggle, emptying, deposits."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import select

from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.returns import DepositRow
from tests.web.conftest import csrf_from, sign_in


def _form(client, number=3, bank="main-lobby"):
    return csrf_from(client.get(f"/staff/banks/{bank}/{number}").get_data(as_text=True))


def _unlock(client, account, number=3, reason="patron locked keys inside", offset=30):
    code = account.totp.at(time.time() + offset)
    return client.post(
        f"/staff/banks/main-lobby/{number}/unlock",
        data={"reason": reason, "code": code, "csrf_token": _form(client, number)},
        follow_redirects=True,
    )


def _audits(rt, kind):
    with unit_of_work(rt.sessions) as s:
        return list(s.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind)))


def test_remote_unlock_with_reason_and_code_opens_the_door_and_is_audited(client, accounts, rt, doors):
    sign_in(client, accounts[Role.ADMIN])
    resp = _unlock(client, accounts[Role.ADMIN])
    assert "Door 3 is open" in resp.get_data(as_text=True)
    assert doors["main-lobby"].is_open(3)
    (event,) = _audits(rt, "remote_unlock")
    assert event.actor == "staff:admin-1" and event.detail["why"] == "patron locked keys inside"


def test_remote_unlock_without_a_reason_opens_nothing(client, accounts, rt, doors):
    sign_in(client, accounts[Role.ADMIN])
    resp = _unlock(client, accounts[Role.ADMIN], reason="  ")
    assert "Say why" in resp.get_data(as_text=True)
    assert not doors["main-lobby"].is_open(3)


def test_only_administrators_unlock_remotely(client, accounts, rt, doors):
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/banks/main-lobby/3").get_data(as_text=True)
    assert "Only administrators" in page and "unlock-code" not in page
    resp = _unlock(client, accounts[Role.STAFF])
    assert resp.status_code == 403
    assert not doors["main-lobby"].is_open(3) and _audits(rt, "remote_unlock") == []


def test_remote_unlock_with_a_wrong_code_opens_nothing_and_is_audited(client, accounts, rt, doors):
    sign_in(client, accounts[Role.ADMIN])
    resp = client.post(
        "/staff/banks/main-lobby/3/unlock",
        data={"reason": "patron locked keys inside", "code": "123456", "csrf_token": _form(client)},
        follow_redirects=True,
    )
    assert "authenticator code is wrong" in resp.get_data(as_text=True)
    assert not doors["main-lobby"].is_open(3)
    assert len(_audits(rt, "remote_unlock_refused")) == 1


def test_remote_unlocks_stop_at_the_hourly_limit(client, accounts, rt, doors):
    limit = rt.settings.web.remote_unlocks_per_hour
    with unit_of_work(rt.sessions) as s:
        for n in range(limit):
            s.add(AuditEventRow(at=datetime.now(UTC), kind="remote_unlock", bank_id="main-lobby", compartment=n + 1, actor="staff:x", detail={}))
    sign_in(client, accounts[Role.ADMIN])
    resp = _unlock(client, accounts[Role.ADMIN], number=4)
    assert "limit of" in resp.get_data(as_text=True)
    assert not doors["main-lobby"].is_open(4)


def test_out_of_service_and_back(client, accounts, rt, doors):
    sign_in(client, accounts[Role.STAFF])
    client.post("/staff/banks/main-lobby/5/service", data={"out": "1", "reason": "hinge loose", "csrf_token": _form(client, 5)})
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(CompartmentRow).where(CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 5)).one()
        assert row.state == "out_of_service"
    page = client.get("/staff/banks/main-lobby/5").get_data(as_text=True)
    assert "Put back in service" in page
    client.post("/staff/banks/main-lobby/5/service", data={"out": "0", "csrf_token": csrf_from(page)})
    with unit_of_work(rt.sessions) as s:
        assert s.scalar(select(CompartmentRow.state).where(CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 5)) == "free"
    assert [e.detail["to"] for e in _audits(rt, "compartment_state")][-2:] == ["out_of_service", "free"]


def test_a_needs_staff_deposit_leaves_the_work_list_when_handled(client, accounts, rt):
    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as s:
        s.add(DepositRow(bank_id="main-lobby", compartment=13, item_barcode="39000009", deposited_at=now, state="needs_staff", reason="unknown_item"))
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/work").get_data(as_text=True)
    assert "39000009" in page
    with unit_of_work(rt.sessions) as s:
        deposit_id = s.scalar(select(DepositRow.id))
    client.post(f"/staff/deposits/{deposit_id}/resolve", data={"note": "shelved", "csrf_token": csrf_from(page)})
    assert "39000009" not in client.get("/staff/work").get_data(as_text=True)


def test_emptying_a_full_return_door_frees_it(client, accounts, rt, doors):
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(select(CompartmentRow).where(CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 13)).one()
        row.state = "return_occupied"
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/work").get_data(as_text=True)
    assert "Emptied door 13" in page
    client.post("/staff/banks/main-lobby/13/emptied", data={"back": "work", "csrf_token": csrf_from(page)})
    with unit_of_work(rt.sessions) as s:
        assert s.scalar(select(CompartmentRow.state).where(CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 13)) == "return_free"


def test_patron_data_is_masked_for_staff_and_hidden_from_viewers(app, accounts, rt, ils, doors):
    from tests.web.conftest import load_for_pickup

    loaded = load_for_pickup(rt, ils, doors, "31000077")
    staff, viewer = app.test_client(), app.test_client()
    sign_in(staff, accounts[Role.STAFF])
    sign_in(viewer, accounts[Role.VIEWER])
    cell = f"/staff/banks/main-lobby/{loaded.compartment}"
    staff_page = staff.get(cell).get_data(as_text=True)
    assert "•••• 0001" in staff_page and "21000001" not in staff_page
    viewer_page = viewer.get(cell).get_data(as_text=True)
    assert "0001" not in viewer_page and "Waiting" in viewer_page
