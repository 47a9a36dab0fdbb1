"""SMS: what a local HTTP gateway receives, in the wire formats providers use."""

from __future__ import annotations

from collections.abc import Callable

from bridge.notify import delivery, failed_messages
from bridge.storage.db import unit_of_work
from tests.notify.conftest import World


def _send(world: World, ref: str | None) -> str:
    assert ref is not None
    return delivery.run(world.rt, "notification", ref)


def test_the_default_json_body_carries_the_number_the_text_and_the_configured_headers(
    make_world: Callable[..., World],
) -> None:
    world = make_world(email={"enabled": False})
    assert _send(world, world.queue()) == "sent"

    [req] = world.gateway.answered
    assert req.method == "POST"
    assert req.headers["authorization"] == "Bearer gw-token"
    assert req.headers["content-type"].startswith("application/json")
    body = req.json()
    assert body["to"] == "+447700900123"
    assert "482913" in body["text"]
    assert "Main Library lobby" in body["text"]
    assert "door 7" in body["text"]


def test_a_form_encoded_gateway_is_configured_without_code(
    make_world: Callable[..., World],
) -> None:
    # The shape of a common provider's "Messages" call: form fields To, From, Body.
    world = make_world(
        email={"enabled": False},
        sms={
            "body_format": "form",
            "sender": "+15005550006",
            "body_template": "To={{ to | urlencode }}&From={{ sender | urlencode }}"
            "&Body={{ text | urlencode }}",
        },
    )
    assert _send(world, world.queue()) == "sent"

    [req] = world.gateway.answered
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    form = req.form()
    assert form["To"] == ["+447700900123"]
    assert form["From"] == ["+15005550006"]
    assert "482913" in form["Body"][0]


def test_a_get_gateway_receives_the_message_in_the_query_string(
    make_world: Callable[..., World],
) -> None:
    world = make_world(
        email={"enabled": False},
        sms={
            "method": "GET",
            "body_format": "form",
            "body_template": "dest={{ to | urlencode }}&msg={{ text | urlencode }}",
        },
    )
    assert _send(world, world.queue()) == "sent"
    [req] = world.gateway.answered
    assert req.method == "GET"
    assert req.query["dest"] == ["+447700900123"]
    assert "482913" in req.query["msg"][0]


def test_a_gateway_that_times_out_is_retried_and_the_sms_goes_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(email={"enabled": False})
    world.gateway.hang_next = 1
    ref = world.queue()

    assert _send(world, ref).startswith("retry in 0:00:02")
    assert world.gateway.answered == []
    world.gateway.release.set()
    world.clock.advance(seconds=2)
    assert _send(world, ref) == "sent"
    assert len(world.gateway.answered) == 1


def test_a_gateway_answering_503_is_retried_and_one_answering_400_is_not(
    make_world: Callable[..., World],
) -> None:
    world = make_world(email={"enabled": False})
    world.gateway.statuses = [503, 400]
    ref = world.queue()
    assert _send(world, ref).startswith("retry")
    world.clock.advance(seconds=2)
    assert _send(world, ref).startswith("failed")
    with unit_of_work(world.rt.sessions) as s:
        [failed] = failed_messages(s)
    assert "HTTP 400" in failed.error


def test_an_invalid_phone_number_fails_for_staff_without_calling_the_gateway(
    make_world: Callable[..., World],
) -> None:
    world = make_world(email={"enabled": False})
    world.ils.add_patron("23000000001", "1234", phone="call me maybe")
    assert _send(world, world.queue()).startswith("failed")
    assert world.gateway.received == 0


def test_when_mail_is_sent_and_the_gateway_times_out_the_retry_sends_only_the_sms(
    world: World,
) -> None:
    world.gateway.hang_next = 1
    ref = world.queue()
    assert _send(world, ref).startswith("retry")
    assert len(world.mailbox.messages) == 1
    world.gateway.release.set()
    world.clock.advance(seconds=2)
    assert _send(world, ref) == "sent"
    assert len(world.mailbox.messages) == 1
    assert len(world.gateway.answered) == 1


def test_a_body_template_that_is_not_json_fails_naming_the_setting(
    make_world: Callable[..., World],
) -> None:
    world = make_world(email={"enabled": False}, sms={"body_template": "to={{ to }}"})
    result = _send(world, world.queue())
    assert result.startswith("failed")
    assert "notifications.sms.body_template" in result
    assert world.gateway.received == 0
