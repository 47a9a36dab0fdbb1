"""Rotating presence codes shown on a bank's kiosk screen.

A phone proves it stands at the bank by sending back the number the kiosk shows now. The code
is an HMAC of the bank id and the current time window (default 60 s) under a server key, cut
to six digits; the current and the previous window are accepted, so a patron typing at the
turn of the minute is not refused. Nothing is stored: any process with the key computes it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

DIGITS = 6
# How far back an old code is recognised as "old" (for a clearer message), in windows.
RECOGNISED_WINDOWS = 30


class Presence(StrEnum):
    HERE = "here"  # a code of this bank, current or previous window
    OTHER_BANK = "other_bank"  # a live code, but another bank's
    OLD = "old"  # a code this bank showed earlier than the previous window
    WRONG = "wrong"  # not a code any bank showed lately


@dataclass(frozen=True)
class PresenceCheck:
    presence: Presence
    other_bank: str | None = None


def window_of(at: datetime, window_seconds: int) -> int:
    return int(at.timestamp()) // window_seconds


def code_for(key: bytes, bank_id: str, window: int) -> str:
    mac = hmac.new(key, f"presence\x00{bank_id}\x00{window}".encode(), hashlib.sha256).digest()
    # RFC 4226 section 5.3 style truncation to decimal digits.
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def current_code(key: bytes, bank_id: str, at: datetime, window_seconds: int) -> str:
    return code_for(key, bank_id, window_of(at, window_seconds))


def seconds_left(at: datetime, window_seconds: int) -> int:
    return window_seconds - int(at.timestamp()) % window_seconds


def check(
    key: bytes,
    bank_id: str,
    code: str,
    at: datetime,
    window_seconds: int,
    all_banks: Iterable[str],
) -> PresenceCheck:
    """Classifies ``code`` typed (or scanned) for ``bank_id`` at ``at``."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != DIGITS:
        return PresenceCheck(Presence.WRONG)
    now = window_of(at, window_seconds)
    for w in (now, now - 1):
        if hmac.compare_digest(code_for(key, bank_id, w), code):
            return PresenceCheck(Presence.HERE)
    for other in all_banks:
        if other == bank_id:
            continue
        for w in (now, now - 1):
            if hmac.compare_digest(code_for(key, other, w), code):
                return PresenceCheck(Presence.OTHER_BANK, other)
    for w in range(now - 2, now - RECOGNISED_WINDOWS, -1):
        if hmac.compare_digest(code_for(key, bank_id, w), code):
            return PresenceCheck(Presence.OLD)
    return PresenceCheck(Presence.WRONG)
