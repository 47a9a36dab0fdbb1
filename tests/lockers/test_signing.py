from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from lockers.errors import ForgedMessage, MalformedMessage, ReplayedMessage, StaleMessage
from lockers.signing import (
    HEADER_SIGNATURE,
    InMemoryNonceCache,
    Signer,
    Verifier,
    signature,
)
from tests.support.clock import Clock

KEYS = {"b1": b"key-of-bank-1-0123456789abcdef", "b2": b"key-of-bank-2-0123456789abcdef"}
BODY = b'{"events":[]}'


def pair(clock: Clock, window: timedelta = timedelta(seconds=60)) -> tuple[Signer, Verifier]:
    return Signer("b1", KEYS["b1"], clock), Verifier(
        KEYS, clock, InMemoryNonceCache(), window=window
    )


def test_a_signed_message_verifies_in_header_and_envelope_form(clock: Clock) -> None:
    signer, verifier = pair(clock)
    first = signer.sign("evt", BODY)
    assert verifier.verify_headers(first.headers(), BODY, "evt").body == BODY
    second = signer.sign("evt", BODY)
    assert verifier.verify_envelope(second.envelope(), "evt") == second


def test_the_signature_is_hmac_sha256_over_the_documented_input() -> None:
    import hashlib
    import hmac

    expected = hmac.new(
        KEYS["b1"], b"lockerbridge-v1\nb1\nevt\n1715000000\nabc\n" + BODY, hashlib.sha256
    ).hexdigest()
    assert signature(KEYS["b1"], "b1", "evt", 1715000000, "abc", BODY) == expected


def test_a_tampered_body_is_rejected_as_forged_and_logged(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    signer, verifier = pair(clock)
    message = signer.sign("evt", BODY)
    with caplog.at_level(logging.WARNING), pytest.raises(ForgedMessage):
        verifier.verify_headers(message.headers(), b'{"events":[1]}', "evt")
    assert "ForgedMessage" in caplog.text and "b1" in caplog.text


def test_a_message_signed_with_another_banks_key_is_forged(clock: Clock) -> None:
    message = Signer("b1", KEYS["b2"], clock).sign("evt", BODY)
    with pytest.raises(ForgedMessage):
        Verifier(KEYS, clock).verify(message, "evt")


def test_an_unknown_bank_is_forged(clock: Clock) -> None:
    message = Signer("b9", KEYS["b1"], clock).sign("evt", BODY)
    with pytest.raises(ForgedMessage, match="unknown bank"):
        Verifier(KEYS, clock).verify(message, "evt")


def test_an_ack_cannot_be_replayed_as_an_event(clock: Clock) -> None:
    signer, verifier = pair(clock)
    with pytest.raises(ForgedMessage, match="channel"):
        verifier.verify(signer.sign("ack", BODY), "evt")


def test_a_replayed_nonce_is_rejected(clock: Clock) -> None:
    signer, verifier = pair(clock)
    message = signer.sign("evt", BODY)
    verifier.verify(message, "evt")
    clock.now += timedelta(seconds=30)
    with pytest.raises(ReplayedMessage):
        verifier.verify(message, "evt")


@pytest.mark.parametrize("skew", [timedelta(seconds=-61), timedelta(seconds=61)])
def test_a_timestamp_outside_the_window_is_stale(clock: Clock, skew: timedelta) -> None:
    signer, verifier = pair(clock)
    message = signer.sign("evt", BODY)
    clock.now -= skew
    with pytest.raises(StaleMessage):
        verifier.verify(message, "evt")


def test_a_message_without_signing_fields_is_malformed(clock: Clock) -> None:
    _, verifier = pair(clock)
    message = Signer("b1", KEYS["b1"], clock).sign("evt", BODY)
    headers = message.headers()
    del headers[HEADER_SIGNATURE]
    with pytest.raises(MalformedMessage):
        verifier.verify_headers(headers, BODY, "evt")
    with pytest.raises(MalformedMessage):
        verifier.verify_envelope(b"not json", "evt")


def test_header_names_are_matched_case_insensitively(clock: Clock) -> None:
    signer, verifier = pair(clock)
    message = signer.sign("evt", BODY)
    lowered = {k.lower(): v for k, v in message.headers().items()}
    assert verifier.verify_headers(lowered, BODY, "evt").nonce == message.nonce


def test_nonces_are_forgotten_only_after_they_could_no_longer_pass_the_window() -> None:
    cache = InMemoryNonceCache()
    from .conftest import T0

    assert cache.add_if_new("n", now=T0, expires_at=T0 + timedelta(seconds=60))
    assert not cache.add_if_new("n", now=T0 + timedelta(seconds=59), expires_at=T0)
    for n in range(2000):
        cache.add_if_new(
            f"k{n}", now=T0 + timedelta(seconds=120), expires_at=T0 + timedelta(seconds=121)
        )
    assert not cache.add_if_new("k5", now=T0 + timedelta(seconds=120), expires_at=T0)
