"""Which SIP2 login is busy: the pool's rule for which idle session to close when it needs room.

Every locker bank logs in with its own account while one ILS gets only ``max_connections``
sessions per process, so a request for a bank without a session closes another bank's idle
one. Closing the least recently used one is wrong when a busy bank's deposits alternate with
single ones elsewhere (busy, a, b, busy, c, d, ...): the busy bank's session is always the
oldest when room is needed and it logs in again for every deposit. Instead each login has a
score, its borrows counted with a decay by the number of borrows since (so it needs no clock),
and the idle session of the least busy login goes first; between equally busy ones, the least
recently used.

No I/O and no locking: the pool calls it under its own lock.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

# A borrow's weight halves with every this many borrows from the pool since.
HALF_LIFE = 32


class IdleSession(Protocol):
    @property
    def account(self) -> Hashable: ...

    @property
    def last_used(self) -> float: ...


class Busyness:
    """Decayed borrow counts per login."""

    def __init__(self, half_life: int = HALF_LIFE) -> None:
        if half_life < 1:
            raise ValueError("half_life must be at least 1")
        self._half_life = half_life
        # A login not borrowed for ten half-lives is forgotten (its score is below 1/1024 of
        # what it was), so the table stays as small as the set of recently active logins.
        self._forget_after = 10 * half_life
        self._tick = 0
        self._scores: dict[Hashable, tuple[float, int]] = {}  # login -> (score, at tick)

    def borrowed(self, account: Hashable) -> None:
        """Count one borrow of a session for ``account``."""
        self._tick += 1
        self._scores[account] = (self.score(account) + 1.0, self._tick)
        if self._tick % self._half_life == 0:
            self._forget()

    def score(self, account: Hashable) -> float:
        """``account``'s borrows, each weighted by its age in borrows; 0 for one never seen."""
        got = self._scores.get(account)
        if got is None:
            return 0.0
        score, at = got
        return score * 0.5 ** ((self._tick - at) / self._half_life)

    def victim(self, idle: Sequence[IdleSession]) -> int | None:
        """Index in ``idle`` of the session to close: the least busy login's, the least
        recently used on a tie; None when ``idle`` is empty."""
        if not idle:
            return None
        return min(range(len(idle)), key=lambda i: (self.score(idle[i].account), idle[i].last_used))

    def _forget(self) -> None:
        stale = [a for a, (_, at) in self._scores.items() if self._tick - at > self._forget_after]
        for account in stale:
            del self._scores[account]

    def __len__(self) -> int:
        return len(self._scores)
