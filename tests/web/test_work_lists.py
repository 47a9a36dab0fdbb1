"""The work list: every kind of work staff must do, each with the action that resolves it
through the service that owns it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow
from bridge.storage.tables.notifications import NotificationRow
from tests.web.conftest import csrf_from, load_for_pickup, sign_in


def _failed_message(rt, card="21000042"):
    with unit_of_work(rt.sessions) as s:
        row = NotificationRow(
            kind="ready_for_pickup",
            event_key="test:1",
            bank_id="main-lobby",
            patron=card,
            state="failed",
            error="mailbox unavailable (550)",
            created_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        return row.id


def test_a_failed_message_is_listed_and_dismissed_by_staff(app, accounts, rt):
    message_id = _failed_message(rt)
    staff, viewer = app.test_client(), app.test_client()
    sign_in(staff, accounts[Role.STAFF])
    sign_in(viewer, accounts[Role.VIEWER])
    assert "mailbox unavailable" in viewer.get("/staff/work").get_data(as_text=True)
    assert "21000042" not in viewer.get("/staff/work").get_data(as_text=True)
    page = staff.get("/staff/work").get_data(as_text=True)
    assert "21000042" in page and "mailbox unavailable" in page  # staff phone the patron

    after = staff.post(
        f"/staff/messages/{message_id}/dismiss",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    ).get_data(as_text=True)

    assert "The message is off the list" in after and "mailbox unavailable" not in after
    with unit_of_work(rt.sessions) as s:
        row = s.get(NotificationRow, message_id)
        assert row is not None and row.state == "dismissed" and row.patron is None
        kinds = s.scalars(select(AuditEventRow.kind)).all()
    assert "message_dismissed" in kinds


def test_an_expired_door_is_removed_through_the_expiry_service(client, accounts, rt, ils, doors):
    loaded = load_for_pickup(rt, ils, doors, "31000300", title="Beloved")
    with unit_of_work(rt.sessions) as s:
        row = s.scalars(
            select(CompartmentRow).where(
                CompartmentRow.bank_id == "main-lobby",
                CompartmentRow.number == loaded.compartment,
            )
        ).one()
        row.state = "expired"  # as the expiry sweep leaves it after the hold-shelf date
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/work").get_data(as_text=True)
    assert f"Open door {loaded.compartment} and remove" in page and "31000300" in page

    after = client.post(
        f"/staff/banks/main-lobby/{loaded.compartment}/remove",
        data={"back": "work", "csrf_token": csrf_from(page)},
        follow_redirects=True,
    ).get_data(as_text=True)

    assert f"Compartment {loaded.compartment} is open and now free" in after
    assert "31000300:" in after  # where the item goes now, from the ILS's check-in
    assert doors["main-lobby"].is_open(loaded.compartment)
    with unit_of_work(rt.sessions) as s:
        state = s.scalar(
            select(CompartmentRow.state).where(
                CompartmentRow.bank_id == "main-lobby",
                CompartmentRow.number == loaded.compartment,
            )
        )
        removed = s.scalars(select(AuditEventRow).where(AuditEventRow.kind == "staff_removed"))
        assert [e.item for e in removed] == ["31000300"]
    assert state == "free"


def test_a_door_not_on_the_removal_list_is_refused(client, accounts, rt, doors):
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/work").get_data(as_text=True)
    after = client.post(
        "/staff/banks/main-lobby/2/remove",
        data={"back": "work", "csrf_token": csrf_from(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "not on the removal list" in after
    assert not doors["main-lobby"].is_open(2)


def test_items_in_transit_are_listed_per_bank(client, accounts, rt):
    from bridge.services.transfers import announce

    now = datetime.now(UTC)
    with unit_of_work(rt.sessions) as s:
        announce(s, item="37000001", bank_id="main-lobby", destination="MAIN-LOCKER",
                 size="S", at=now, actor="system")
        # Checked in at a desk on its way: still travelling until it is scanned at the bank.
        announce(s, item="37000002", bank_id="east-station", destination="EAST-LOCKER",
                 size="M", at=now, actor="staff:desk", scanned_at="CENTRAL")
    sign_in(client, accounts[Role.VIEWER])
    page = client.get("/staff/work").get_data(as_text=True)
    assert "Items in transit to a bank (2)" in page
    main, east = page.index("To Main Library lobby (1)"), page.index("To East station (1)")
    first, second = sorted([(main, "37000001"), (east, "37000002")])
    # Each item sits under its bank's heading.
    assert first[0] < page.index(first[1]) < second[0] < page.index(second[1])
    status = client.get("/staff/").get_data(as_text=True)
    assert "2 in transit" in status
