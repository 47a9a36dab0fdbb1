"""Guessing budgets counted *before* a secret is checked, atomically, in Redis.

Each attempt is reserved first: one Lua script (atomic on the Redis server, so every web worker
and process sees the same count) drops the entries that left each subject's window, refuses
when any subject has its limit's worth of entries, and otherwise adds one entry, a unique
member scored with the attempt's time, to every subject. Only then is the PIN, code or number
checked. A failed attempt leaves its entries in place: each failure is its own entry, so a
window never loses one, however many requests run at once. A successful attempt is refunded
(its entries removed; a subject marked ``reset_on_success`` is emptied, which ends a run of
failures as the domain's consecutive rule wants). An attempt that could not be judged (the ILS
did not answer) is refunded too.

Times come from the runtime's clock (not the Redis server's), so the windows follow the same
clock as the rest of the bridge.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis import Redis

PREFIX = "lockerbridge:attempts:"

_RESERVE = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
local worst = 0
local counts = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n >= limit then
    local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    local free_at = tonumber(oldest[2]) + window
    if free_at > worst then worst = free_at end
  end
  counts[i] = n
end
if worst > 0 then
  return {'refused', tostring(worst)}
end
local out = {'ok', '0'}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, math.ceil(window) + 3600)
  out[#out + 1] = tostring(counts[i] + 1)
end
return out
"""


@dataclass(frozen=True)
class Budget:
    """At most ``limit`` attempts per ``window_seconds`` for one subject (``key``)."""

    key: str
    limit: int
    window_seconds: int
    reset_on_success: bool = False

    @property
    def redis_key(self) -> str:
        return PREFIX + self.key


@dataclass
class Attempt:
    """A reserved attempt: call :meth:`refund` on success (or when nothing was judged)."""

    redis: Redis
    budgets: tuple[Budget, ...]
    member: str
    counts: dict[str, int] = field(default_factory=dict)  # entries per subject, this one included

    def refund(self, *, success: bool = False) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for b in self.budgets:
            if success and b.reset_on_success:
                pipe.delete(b.redis_key)
            else:
                pipe.zrem(b.redis_key, self.member)
        pipe.execute()


class OverBudget(Exception):
    """Some subject has no attempt left; ``until`` is when one frees."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"over budget until {until.isoformat()}")
        self.until = until


def reserve(redis: Redis, now: datetime, *budgets: Budget) -> Attempt:
    """Counts one attempt against every budget, all or none. Raises OverBudget."""
    member = f"{now.timestamp():.6f}:{secrets.token_hex(6)}"
    args: list[str | float | int] = [now.timestamp(), member]
    for b in budgets:
        args += [b.limit, b.window_seconds]
    reply = redis.eval(_RESERVE, len(budgets), *[b.redis_key for b in budgets], *args)
    status, value, *counts = (v.decode() if isinstance(v, bytes) else str(v) for v in reply)
    if status == "refused":
        raise OverBudget(datetime.fromtimestamp(float(value), UTC))
    return Attempt(
        redis, budgets, member, {b.key: int(n) for b, n in zip(budgets, counts, strict=True)}
    )


def spent(redis: Redis, now: datetime, budget: Budget) -> int:
    """Entries in ``budget``'s window now (for staff pages and tests)."""
    key = budget.redis_key
    redis.zremrangebyscore(key, "-inf", now.timestamp() - budget.window_seconds)
    return int(redis.zcard(key))


class InFlight:
    """At most one verification at a time per subject (a Redis ``SET NX`` with expiry)."""

    def __init__(self, redis: Redis, key: str, seconds: int = 30) -> None:
        self._redis = redis
        self._key = f"lockerbridge:verifying:{key}"
        self._seconds = seconds
        self._token = secrets.token_hex(8)
        self.held = False

    def __enter__(self) -> InFlight:
        self.held = bool(self._redis.set(self._key, self._token, nx=True, ex=self._seconds))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            # Only our own mark: one left by an attempt that outlived its expiry is not ours.
            self._redis.eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end",
                1,
                self._key,
                self._token,
            )
