"""Email: what arrives at a real SMTP server, and what happens when it refuses."""

from __future__ import annotations

import io
from datetime import timedelta

import segno
from PIL import Image
from sqlalchemy import select

from bridge.notify import delivery, failed_messages
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import OutboxRow
from bridge.storage.tables.notifications import NotificationRow
from tests.notify.conftest import CARD, EMAIL, World, ready_facts


def _send(world: World, ref: str) -> str:
    return delivery.run(world.rt, "notification", ref)


def _row(world: World, ref: str) -> NotificationRow:
    with unit_of_work(world.rt.sessions) as s:
        row = s.get(NotificationRow, int(ref))
        assert row is not None
        return row


def _outbox(world: World, ref: str) -> OutboxRow:
    with unit_of_work(world.rt.sessions) as s:
        return s.scalars(select(OutboxRow).where(OutboxRow.ref == ref)).one()


def _decode_qr(png: bytes) -> str:
    """Reads the QR code back: zxing-cpp if installed, else compare with segno's matrix."""
    image = Image.open(io.BytesIO(png))
    try:
        import zxingcpp
    except ImportError:  # pragma: no cover - the dev extra installs it
        return _matrix_match(image)
    found = zxingcpp.read_barcodes(image)
    assert found, "no QR code found in the image"
    return str(found[0].text)


def _matrix_match(image: Image.Image) -> str:
    token = ready_facts()["qr_token"]
    expected = segno.make(token, error="m", micro=False)
    scale, border = 6, 4
    grey = image.convert("L")
    for y, row in enumerate(expected.matrix):
        for x, dark in enumerate(row):
            px = grey.getpixel(((x + border) * scale + 2, (y + border) * scale + 2))
            assert (px < 128) == bool(dark)
    return token


def test_the_ready_message_arrives_with_text_html_and_a_qr_code_that_decodes_to_the_token(
    world: World,
) -> None:
    world.gateway.statuses = []
    ref = world.queue()
    assert ref is not None

    assert _send(world, ref) == "sent"

    [(mail_from, rcpt, msg)] = world.mailbox.messages
    assert (mail_from, rcpt) == ("lockers@library.example", [EMAIL])
    assert "Riverside Public Library" in msg["From"]
    assert msg["Subject"] == "Ready to collect at Main Library lobby"
    text = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",))
    html = html_part.get_content()
    for body in (text, html):
        assert "482913" in body
        assert "Middlemarch" in body
        assert "1 River Street" in body
        assert "Friday 14 March 2025" in body
    assert "Locker door: 7" in text
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = images[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert _decode_qr(images[0].get_content()) == ready_facts()["qr_token"]


def test_after_sending_the_code_token_and_card_number_are_gone_from_the_database(
    world: World,
) -> None:
    ref = world.queue()
    assert ref is not None
    _send(world, ref)
    row = _row(world, ref)
    assert row.state == "sent"
    assert row.secrets is None
    assert row.patron is None
    assert row.patron_key and CARD not in row.patron_key
    assert row.channels_sent == "email,sms"
    assert _outbox(world, ref).state == "done"


def test_a_refusing_smtp_server_is_retried_with_growing_backoff_and_mails_once(
    world: World,
) -> None:
    world.mailbox.refuse_data = 2
    ref = world.queue()
    assert ref is not None

    assert _send(world, ref).startswith("retry in 0:00:02")
    first = _outbox(world, ref)
    assert first.state == "pending"
    assert first.next_attempt_at == world.clock() + timedelta(seconds=2)
    assert "451" in (first.last_error or "")
    world.clock.advance(seconds=2)
    assert _send(world, ref).startswith("retry in 0:00:04")
    world.clock.advance(seconds=4)
    assert _send(world, ref) == "sent"

    assert len(world.mailbox.messages) == 1
    assert len(world.gateway.answered) == 1  # the SMS went on the first attempt, only once
    assert _row(world, ref).state == "sent"


def test_a_mail_server_that_never_answers_fails_the_message_for_staff_after_max_attempts(
    make_world, unused_port: int
) -> None:
    world = make_world(email={"port": unused_port}, sms={"enabled": False})
    ref = world.queue()
    assert ref is not None
    for _ in range(2):
        assert _send(world, ref).startswith("retry")
        world.clock.advance(minutes=1)
    assert _send(world, ref).startswith("failed")

    with unit_of_work(world.rt.sessions) as s:
        [failed] = failed_messages(s)
    assert failed.patron == CARD
    assert failed.kind == "ready_for_pickup"
    assert "could not be used" in failed.error
    assert _outbox(world, ref).state == "failed"
    assert _row(world, ref).secrets is None


def test_an_invalid_email_address_fails_at_once_without_contacting_the_server(
    make_world,
) -> None:
    world = make_world(sms={"enabled": False})
    world.ils.add_patron(CARD, "1234", email="ada at example.org", language="en")
    ref = world.queue()
    assert ref is not None

    assert _send(world, ref).startswith("failed")

    assert world.mailbox.sessions == 0
    assert _outbox(world, ref).attempts == 1
    with unit_of_work(world.rt.sessions) as s:
        [failed] = failed_messages(s)
    assert "email address is not valid" in failed.error


def test_an_address_the_mail_server_does_not_know_is_not_retried(make_world) -> None:
    world = make_world(sms={"enabled": False})
    world.mailbox.reject_rcpt.add(EMAIL)
    ref = world.queue()
    assert ref is not None
    assert _send(world, ref).startswith("failed")
    assert _outbox(world, ref).attempts == 1
    assert world.mailbox.messages == []


def test_an_email_header_injection_in_the_ils_record_is_refused(make_world) -> None:
    world = make_world(sms={"enabled": False})
    world.ils.add_patron(CARD, "1234", email="ada@example.org\r\nBcc: all@example.org")
    ref = world.queue()
    assert ref is not None
    assert _send(world, ref).startswith("failed")
    assert world.mailbox.messages == []


def test_with_starttls_required_a_server_without_tls_gets_nothing_in_clear_text(
    make_world,
) -> None:
    world = make_world(email={"starttls": True}, sms={"enabled": False})
    ref = world.queue()
    assert ref is not None
    result = _send(world, ref)
    assert result.startswith("retry")
    assert "STARTTLS" in (_outbox(world, ref).last_error or "")
    assert world.mailbox.messages == []
