"""The sending job as a whole: opt-outs, de-duplication, skipped and failed messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rq import Queue, SimpleWorker
from sqlalchemy import select

from bridge.infra import outbox
from bridge.notify import (
    Channel,
    MessageKind,
    clear_opt_out,
    delivery,
    dismiss,
    dispatch,
    failed_messages,
    opted_out,
    set_opt_out,
)
from bridge.storage.db import unit_of_work
from bridge.storage.tables.notifications import NotificationOptOutRow, NotificationRow
from tests.notify.conftest import CARD, World
from tests.support.runtime import installed


def _send(world: World, ref: str | None) -> str:
    assert ref is not None
    return delivery.run(world.rt, "notification", ref)


def _opt(world: World, channel: Channel, *, out: bool) -> None:
    with unit_of_work(world.rt.sessions) as s:
        if out:
            set_opt_out(s, world.rt.settings, CARD, channel, now=world.clock())
        else:
            clear_opt_out(s, world.rt.settings, CARD, channel)


def test_a_patron_who_opted_out_of_sms_gets_only_the_email(world: World) -> None:
    _opt(world, Channel.SMS, out=True)
    assert _send(world, world.queue()) == "sent"
    assert len(world.mailbox.messages) == 1
    assert world.gateway.received == 0


def test_a_patron_who_opted_out_of_everything_gets_nothing_and_staff_are_not_alarmed(
    world: World,
) -> None:
    _opt(world, Channel.SMS, out=True)
    _opt(world, Channel.EMAIL, out=True)
    ref = world.queue()
    assert _send(world, ref).startswith("skipped")
    assert world.mailbox.messages == [] and world.gateway.received == 0
    with unit_of_work(world.rt.sessions) as s:
        assert failed_messages(s) == []
        row = s.get(NotificationRow, int(ref or 0))
        assert row is not None and row.secrets is None


def test_clearing_an_opt_out_brings_the_channel_back(world: World) -> None:
    _opt(world, Channel.SMS, out=True)
    _opt(world, Channel.SMS, out=True)  # twice: still one opt-out
    _opt(world, Channel.SMS, out=False)
    with unit_of_work(world.rt.sessions) as s:
        assert opted_out(s, world.rt.settings, CARD) == frozenset()
    assert _send(world, world.queue()) == "sent"
    assert world.gateway.received == 1


def test_the_opt_out_table_does_not_hold_card_numbers(world: World) -> None:
    _opt(world, Channel.EMAIL, out=True)
    with unit_of_work(world.rt.sessions) as s:
        [row] = s.scalars(select(NotificationOptOutRow)).all()
    assert CARD not in row.patron_key and len(row.patron_key) == 64


def test_one_event_queued_twice_and_run_twice_is_sent_once(world: World) -> None:
    ref = world.queue()
    assert world.queue() is None
    assert _send(world, ref) == "sent"
    assert _send(world, ref).startswith("not claimed")
    assert len(world.mailbox.messages) == 1
    assert len(world.gateway.answered) == 1


def test_the_library_can_leave_the_ready_notice_to_the_ils(
    make_world: Callable[..., World],
) -> None:
    world = make_world(send_ready_message=False)
    assert _send(world, world.queue()).startswith("skipped")
    assert world.mailbox.messages == []
    # Other messages still go.
    ref = world.queue(MessageKind.PICKED_UP, event_key="pickup-1", facts={"titles": ["Dune"]})
    assert _send(world, ref) == "sent"


def test_a_card_the_ils_does_not_know_fails_for_staff(world: World) -> None:
    assert _send(world, world.queue(patron="29999999999")).startswith("failed")
    with unit_of_work(world.rt.sessions) as s:
        [failed] = failed_messages(s)
    assert failed.patron == "29999999999"
    assert "does not know" in failed.error


def test_an_ils_that_does_not_answer_is_retried(world: World) -> None:
    world.ils.go_offline()
    ref = world.queue()
    assert _send(world, ref).startswith("retry")
    world.ils.go_online()
    world.clock.advance(seconds=2)
    assert _send(world, ref) == "sent"


def test_a_broken_template_fails_its_message_and_the_others_still_go(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    own = tmp_path / "own"
    (own / "en").mkdir(parents=True)
    (own / "en" / "reminder.html.j2").write_text("{% extends 'layout.html.j2' %}{% block")
    world = make_world(templates_dir=str(own))
    bad = world.queue(MessageKind.REMINDER, event_key="remind-1")
    good = world.queue(MessageKind.READY_FOR_PICKUP, event_key="load-1")
    assert _send(world, bad).startswith("failed")
    assert _send(world, good) == "sent"
    with unit_of_work(world.rt.sessions) as s:
        [failed] = failed_messages(s)
    assert "en/reminder.html.j2" in failed.error
    assert len(world.mailbox.messages) == 1


def test_a_message_staff_dismissed_leaves_the_list_and_forgets_the_card(world: World) -> None:
    _send(world, world.queue(patron="29999999999"))
    with unit_of_work(world.rt.sessions) as s:
        [failed] = failed_messages(s)
        assert dismiss(s, failed.id, now=world.clock())
    with unit_of_work(world.rt.sessions) as s:
        assert failed_messages(s) == []
        row = s.get(NotificationRow, failed.id)
        assert row is not None and row.patron is None


def test_an_rq_worker_sends_a_dispatched_message(world: World) -> None:
    ref = world.queue()
    dispatch(world.rt, ref)
    queue = Queue("notifications", connection=world.rt.redis)
    with installed(world.rt):
        SimpleWorker([queue], connection=world.rt.redis).work(burst=True)
    assert len(world.mailbox.messages) == 1
    assert len(world.gateway.answered) == 1
    with unit_of_work(world.rt.sessions) as s:
        assert outbox.backlog(s, "notification") == (0, None)
