"""Audit rows for callers that failed to authenticate, at most one per source per minute.

A caller without valid credentials (a forged controller message, an NCIP request without a
secret or certificate) must not be able to fill the audit log: the first rejection from a
source in a minute is written, with the number of rejections the source had in the minute
before (so the log still shows how hard it was tried); the rest are only counted, in Redis.
"""

from __future__ import annotations

from bridge.runtime import Runtime


def rejection_to_audit(rt: Runtime, kind: str, source: str) -> int | None:
    """None: do not write a row for this rejection. Otherwise write one, and the number is
    how many rejections of ``kind`` from ``source`` the previous minute had (0: none)."""
    minute = int(rt.clock().timestamp() // 60)
    key = f"lockerbridge:rejections:{kind}:{source[:120]}:"
    pipe = rt.redis.pipeline(transaction=True)
    pipe.incr(key + str(minute))
    pipe.expire(key + str(minute), 180)
    pipe.get(key + str(minute - 1))
    count, _, before = pipe.execute()
    if int(count) != 1:
        return None
    return int(before or 0)
