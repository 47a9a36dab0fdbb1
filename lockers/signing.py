"""Signing and verifying hardware messages, without I/O (shared by the MQTT and HTTP drivers).

Every message carries the bank id, a channel (what the message is for: ``evt``, ``ack``,
``cmd/open``, ``cmd/read``), a Unix timestamp in seconds, a random nonce and an HMAC-SHA256 over

    "lockerbridge-v1\\n" bank "\\n" channel "\\n" timestamp "\\n" nonce "\\n" body-bytes

with the bank's own key. The body is signed as the exact bytes sent, so no JSON
canonicalisation is needed on either side. A receiver rejects a wrong HMAC (forged), a timestamp
more than ``window`` away from its clock (stale) and a nonce it has seen within the window
(replayed); only messages that pass all three reach the domain. Binding the channel into the
signature stops an attacker from replaying an acknowledgement as an event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from lockers.errors import (
    ForgedMessage,
    MalformedMessage,
    ReplayedMessage,
    SignatureError,
    StaleMessage,
)
from lockers.ports import Clock, RandomSource, SystemRandom

log = logging.getLogger(__name__)

VERSION = "lockerbridge-v1"
NONCE_BYTES = 16
DEFAULT_WINDOW = timedelta(seconds=60)

HEADER_BANK = "X-Lockerbridge-Bank"
HEADER_CHANNEL = "X-Lockerbridge-Channel"
HEADER_TIMESTAMP = "X-Lockerbridge-Timestamp"
HEADER_NONCE = "X-Lockerbridge-Nonce"
HEADER_SIGNATURE = "X-Lockerbridge-Signature"

KeyLookup = Callable[[str], bytes | None]


def signing_input(bank_id: str, channel: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    head = f"{VERSION}\n{bank_id}\n{channel}\n{timestamp}\n{nonce}\n"
    return head.encode("utf-8") + body


def signature(
    key: bytes, bank_id: str, channel: str, timestamp: int, nonce: str, body: bytes
) -> str:
    """Lower-case hex HMAC-SHA256 of ``signing_input``."""
    message = signing_input(bank_id, channel, timestamp, nonce, body)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedMessage:
    """A message's signing fields and body, as sent or as accepted."""

    bank_id: str
    channel: str
    timestamp: int
    nonce: str
    signature: str
    body: bytes

    def headers(self) -> dict[str, str]:
        """The HTTP header form."""
        return {
            HEADER_BANK: self.bank_id,
            HEADER_CHANNEL: self.channel,
            HEADER_TIMESTAMP: str(self.timestamp),
            HEADER_NONCE: self.nonce,
            HEADER_SIGNATURE: self.signature,
        }

    def envelope(self) -> bytes:
        """The MQTT form: one JSON object with the body as a string."""
        return json.dumps(
            {
                "bank": self.bank_id,
                "channel": self.channel,
                "ts": self.timestamp,
                "nonce": self.nonce,
                "sig": self.signature,
                "body": self.body.decode("utf-8"),
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], body: bytes) -> SignedMessage:
        """Raises ``MalformedMessage`` when a signing header is missing or not a number."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            return cls(
                bank_id=lowered[HEADER_BANK.lower()],
                channel=lowered[HEADER_CHANNEL.lower()],
                timestamp=int(lowered[HEADER_TIMESTAMP.lower()]),
                nonce=lowered[HEADER_NONCE.lower()],
                signature=lowered[HEADER_SIGNATURE.lower()],
                body=body,
            )
        except (KeyError, ValueError) as exc:
            raise MalformedMessage(f"missing or bad signing header: {exc}") from exc

    @classmethod
    def from_envelope(cls, payload: bytes) -> SignedMessage:
        """Raises ``MalformedMessage`` when the payload is not a complete envelope."""
        try:
            data = json.loads(payload)
            return cls(
                bank_id=str(data["bank"]),
                channel=str(data["channel"]),
                timestamp=int(data["ts"]),
                nonce=str(data["nonce"]),
                signature=str(data["sig"]),
                body=str(data["body"]).encode("utf-8"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedMessage(f"not a signed envelope: {exc}") from exc


class Signer:
    """Signs outgoing messages for one bank."""

    def __init__(
        self, bank_id: str, key: bytes, clock: Clock, random: RandomSource | None = None
    ) -> None:
        self.bank_id = bank_id
        self._key = key
        self._clock = clock
        self._random = random or SystemRandom()

    def sign(self, channel: str, body: bytes) -> SignedMessage:
        timestamp = int(self._clock().timestamp())
        nonce = base64.urlsafe_b64encode(self._random.token_bytes(NONCE_BYTES)).decode().rstrip("=")
        sig = signature(self._key, self.bank_id, channel, timestamp, nonce, body)
        return SignedMessage(self.bank_id, channel, timestamp, nonce, sig, body)


class NonceCache(Protocol):
    """Remembers nonces until they expire; shared by all receivers of one deployment."""

    def add_if_new(self, key: str, *, now: datetime, expires_at: datetime) -> bool:
        """Remember ``key`` until ``expires_at``; False when it is already remembered."""
        ...


class InMemoryNonceCache:
    """``NonceCache`` for one process; expired nonces are purged as the cache grows."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._purge_at = 1024
        self._lock = threading.Lock()

    def add_if_new(self, key: str, *, now: datetime, expires_at: datetime) -> bool:
        with self._lock:
            if len(self._seen) >= self._purge_at:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                self._purge_at = max(1024, 2 * len(self._seen))
            remembered = self._seen.get(key)
            if remembered is not None and remembered > now:
                return False
            self._seen[key] = expires_at
            return True


class Verifier:
    """Checks incoming messages against per-bank keys, the clock window and seen nonces."""

    def __init__(
        self,
        keys: Mapping[str, bytes] | KeyLookup,
        clock: Clock,
        nonces: NonceCache | None = None,
        *,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self._lookup: KeyLookup = keys.get if isinstance(keys, Mapping) else keys
        self._clock = clock
        self._nonces = nonces or InMemoryNonceCache()
        self._window = window

    def verify(self, message: SignedMessage, channel: str) -> SignedMessage:
        """Return ``message`` if it is authentic, fresh and new for ``channel``.

        Raises ``ForgedMessage``, ``StaleMessage`` or ``ReplayedMessage``; each rejection is
        logged (bank, channel, reason; never keys or bodies).
        """
        try:
            return self._verify(message, channel)
        except SignatureError as exc:
            log.warning(
                "rejected hardware message: %s (bank=%r channel=%r nonce=%r)",
                type(exc).__name__,
                message.bank_id,
                message.channel,
                message.nonce,
            )
            raise

    def verify_headers(
        self, headers: Mapping[str, str], body: bytes, channel: str
    ) -> SignedMessage:
        try:
            message = SignedMessage.from_headers(headers, body)
        except MalformedMessage:
            log.warning("rejected hardware message: MalformedMessage (headers)")
            raise
        return self.verify(message, channel)

    def verify_envelope(self, payload: bytes, channel: str) -> SignedMessage:
        try:
            message = SignedMessage.from_envelope(payload)
        except MalformedMessage:
            log.warning("rejected hardware message: MalformedMessage (envelope)")
            raise
        return self.verify(message, channel)

    def _verify(self, message: SignedMessage, channel: str) -> SignedMessage:
        key = self._lookup(message.bank_id)
        if key is None:
            raise ForgedMessage(f"unknown bank {message.bank_id!r}")
        expected = signature(
            key, message.bank_id, message.channel, message.timestamp, message.nonce, message.body
        )
        if not hmac.compare_digest(expected, message.signature.lower()):
            raise ForgedMessage("signature does not match")
        if message.channel != channel:
            raise ForgedMessage(f"signed for channel {message.channel!r}, received on {channel!r}")
        now = self._clock()
        sent = datetime.fromtimestamp(message.timestamp, UTC)
        if abs(now - sent) > self._window:
            raise StaleMessage(f"timestamp {message.timestamp} outside the window")
        nonce_key = f"{message.bank_id}:{message.nonce}"
        if not self._nonces.add_if_new(nonce_key, now=now, expires_at=sent + self._window):
            raise ReplayedMessage("nonce already seen")
        return message
