"""Re-issued codes: the message says which code it replaces, and codes re-issued in quick
succession reach the patron as one message (the newest, whose code is the only one that
works). Real delivery to the test mail server and SMS gateway."""

from __future__ import annotations

from bridge.notify import delivery
from bridge.storage.db import unit_of_work
from bridge.storage.tables.notifications import NotificationRow
from tests.notify.conftest import World, ready_facts


def _send(world: World, ref: str | None) -> str:
    assert ref is not None
    return delivery.run(world.rt, "notification", ref)


def _reissued(code: str, replaces: str | None) -> dict[str, object]:
    facts: dict[str, object] = {**ready_facts(), "code": code, "reissued": True}
    if replaces:
        facts["replaces_sent_at"] = replaces
    return facts


def test_three_codes_reissued_in_a_second_arrive_as_one_message_naming_the_code_it_replaces(
    world: World,
) -> None:
    first = world.queue(event_key="load-1")
    assert _send(world, first) == "sent"
    with unit_of_work(world.rt.sessions) as s:
        sent_at = s.get(NotificationRow, int(first or 0)).settled_at  # type: ignore[union-attr]
    assert sent_at is not None
    world.clock.advance(minutes=95)
    # Three re-issues before the sender ran, as the re-issue flow queues them.
    refs = [
        world.queue(event_key=f"reissue:{n}", facts=_reissued(code, sent_at.isoformat()))
        for n, code in enumerate(("111111", "222222", "333333"))
    ]
    results = [_send(world, ref) for ref in refs]

    assert results[:2] == ["skipped: a newer code for the same items replaces it"] * 2
    assert results[2] == "sent"
    assert len(world.mailbox.messages) == 2 and len(world.gateway.answered) == 2
    _, _, mail = world.mailbox.messages[-1]
    assert mail["Subject"] == "New pickup code: ready to collect at Main Library lobby"
    text = mail.get_body(("plain",)).get_content()
    # The bank is in Europe/London: 09:00 UTC in March is 09:00 there.
    assert "This code replaces the one sent at 09:00, which no longer works." in text
    assert "333333" in text and "111111" not in text and "222222" not in text
    sms = world.gateway.answered[-1].json()["text"]
    assert "333333" in sms and "replaces the one sent at 09:00" in sms


def test_a_first_message_is_not_folded_into_a_later_ordinary_one(world: World) -> None:
    # Two holds loaded one after the other: both messages go, neither replaces the other.
    one = world.queue(event_key="load-1")
    two = world.queue(event_key="load-2", facts={**ready_facts(), "code": "555555"})
    assert [_send(world, one), _send(world, two)] == ["sent", "sent"]
    _, _, mail = world.mailbox.messages[-1]
    assert "replaces" not in mail.get_body(("plain",)).get_content()


def test_a_reissued_code_in_spanish_says_what_it_replaces(world: World) -> None:
    world.ils.add_patron("23000000099", "1234", email="eva@example.org", language="es")
    ref = world.queue(
        patron="23000000099", event_key="reissue:es", facts=_reissued("777777", None)
    )
    assert _send(world, ref) == "sent"
    _, _, mail = world.mailbox.messages[-1]
    assert mail["Subject"].startswith("Nuevo código de recogida")
    assert "Es un código nuevo; el enviado antes ya no funciona." in (
        mail.get_body(("plain",)).get_content()
    )


def test_the_pickup_receipt_lists_each_item_with_its_due_date(world: World) -> None:
    from bridge.notify import MessageKind

    ref = world.queue(
        MessageKind.PICKED_UP,
        event_key="pickup:1,2",
        facts={
            "titles": ["Kindred", "Beloved"],
            "items": 2,
            "picked_up_at": "2025-03-10T09:00:00+00:00",
            "due": "2025-03-31T23:59:00+00:00",
            "loans": [
                {"title": "Kindred", "due": "2025-03-31T12:00:00+00:00"},
                {"title": "Beloved", "due": "2025-04-07T12:00:00+00:00"},
            ],
        },
    )
    assert _send(world, ref) == "sent"
    _, _, mail = world.mailbox.messages[-1]
    text = mail.get_body(("plain",)).get_content()
    assert "Kindred: due back by" in text and "Beloved: due back by" in text
    assert "7 April 2025" in text and "31 March 2025" in text
