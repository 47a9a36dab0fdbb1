"""Guessing limits for PINs, codes and kiosks (DOMAIN.md section 6).

- a card: locked 15 min after 5 consecutive failures, and while 10 failures fall in 24 h;
- a code target (a door number or a grant a patron is trying): the same;
- a kiosk: at most 20 failures in 10 min, then it backs off until the oldest of those leaves
  the window.
With a 4-digit PIN that leaves an attacker at most 10 guesses a day per card, <= 0.1 %.
The state lives in a ``LockoutStore`` so it survives restarts and is shared by workers.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from lockers.errors import LockedOut
from lockers.ports import Clock


class SubjectKind(enum.StrEnum):
    CARD = "card"
    CODE = "code"
    KIOSK = "kiosk"


@dataclass(frozen=True)
class Subject:
    """Who or what failed. ``key`` must not be a card number or PIN: pass a keyed hash."""

    kind: SubjectKind
    key: str

    @property
    def store_key(self) -> str:
        return f"{self.kind.value}:{self.key}"


@dataclass(frozen=True)
class LockoutPolicy:
    consecutive_limit: int | None
    consecutive_lock: timedelta
    window_limit: int
    window: timedelta


CARD_POLICY = LockoutPolicy(5, timedelta(minutes=15), 10, timedelta(hours=24))
CODE_POLICY = CARD_POLICY
KIOSK_POLICY = LockoutPolicy(None, timedelta(0), 20, timedelta(minutes=10))
DEFAULT_POLICIES: Mapping[SubjectKind, LockoutPolicy] = {
    SubjectKind.CARD: CARD_POLICY,
    SubjectKind.CODE: CODE_POLICY,
    SubjectKind.KIOSK: KIOSK_POLICY,
}


@dataclass(frozen=True)
class LockoutState:
    """Failures still counting (newest last), the consecutive run, and any active lock."""

    consecutive: int = 0
    failures: tuple[datetime, ...] = ()
    locked_until: datetime | None = None


def locked_until(state: LockoutState, now: datetime) -> datetime | None:
    if state.locked_until is not None and state.locked_until > now:
        return state.locked_until
    return None


def record_failure(state: LockoutState, policy: LockoutPolicy, now: datetime) -> LockoutState:
    """The state after one more failure at ``now``."""
    recent = [t for t in state.failures if t > now - policy.window]
    recent.append(now)
    recent = recent[-policy.window_limit :]
    consecutive = state.consecutive + 1
    until = locked_until(state, now)
    if policy.consecutive_limit is not None and consecutive >= policy.consecutive_limit:
        until = max(filter(None, (until, now + policy.consecutive_lock)))
        consecutive = 0  # the next run of failures starts after the lock
    if len(recent) >= policy.window_limit:
        until = max(filter(None, (until, recent[-policy.window_limit] + policy.window)))
    return LockoutState(consecutive=consecutive, failures=tuple(recent), locked_until=until)


def record_success(state: LockoutState) -> LockoutState:
    """A success ends the consecutive run; failures in the window still count."""
    return LockoutState(consecutive=0, failures=state.failures, locked_until=state.locked_until)


class LockoutStore(Protocol):
    """Persisted lockout state per subject (``Subject.store_key``)."""

    def get(self, key: str) -> LockoutState: ...

    def put(self, key: str, state: LockoutState) -> None: ...


class InMemoryLockoutStore:
    """``LockoutStore`` in a dict (tests, demo, single process)."""

    def __init__(self) -> None:
        self._states: dict[str, LockoutState] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> LockoutState:
        with self._lock:
            return self._states.get(key, LockoutState())

    def put(self, key: str, state: LockoutState) -> None:
        with self._lock:
            self._states[key] = state


class GuessGuard:
    """Checks and records attempts for several subjects at once (card, code target, kiosk).

    Call ``check`` before verifying anything (and before asking the ILS about a PIN), then
    ``failed`` or ``succeeded`` with the outcome.
    """

    def __init__(
        self,
        store: LockoutStore,
        clock: Clock,
        policies: Mapping[SubjectKind, LockoutPolicy] = DEFAULT_POLICIES,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policies = policies

    def check(self, *subjects: Subject) -> None:
        """Raise ``LockedOut`` (the latest lock among ``subjects``) if any subject is locked."""
        now = self._clock()
        worst: tuple[datetime, Subject] | None = None
        for subject in subjects:
            until = locked_until(self._store.get(subject.store_key), now)
            if until is not None and (worst is None or until > worst[0]):
                worst = (until, subject)
        if worst is not None:
            raise LockedOut(worst[1].kind.value, worst[0])

    def failed(self, *subjects: Subject) -> None:
        now = self._clock()
        for subject in subjects:
            state = self._store.get(subject.store_key)
            policy = self._policies[subject.kind]
            self._store.put(subject.store_key, record_failure(state, policy, now))

    def succeeded(self, *subjects: Subject) -> None:
        for subject in subjects:
            state = self._store.get(subject.store_key)
            self._store.put(subject.store_key, record_success(state))
