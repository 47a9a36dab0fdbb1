"""What the domain needs from outside: a clock and a source of randomness."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

Clock = Callable[[], datetime]
"""Returns the current time as a timezone-aware ``datetime``."""


def system_clock() -> datetime:
    return datetime.now(UTC)


class RandomSource(Protocol):
    """Randomness for codes, tokens and nonces; production uses ``secrets``."""

    def randbelow(self, exclusive_upper_bound: int) -> int: ...

    def token_bytes(self, nbytes: int) -> bytes: ...


class SystemRandom:
    """``RandomSource`` backed by the ``secrets`` module (the OS CSPRNG)."""

    def randbelow(self, exclusive_upper_bound: int) -> int:
        return secrets.randbelow(exclusive_upper_bound)

    def token_bytes(self, nbytes: int) -> bytes:
        return secrets.token_bytes(nbytes)
