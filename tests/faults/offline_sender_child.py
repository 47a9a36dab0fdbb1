"""A worker process that sends offline loans and may die on the way.

Run by ``tests/faults/test_offline_pickups.py``, with ``LOCKERBRIDGE_CRASH_AT`` set or killed
from outside: it reads its settings (JSON) from stdin and sends each offline loan named there
through the real service, over TCP to the reference ACS, printing what became of each.
"""

from __future__ import annotations

import json
import sys

from redis import Redis

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.offline_loans import send_offline_loan
from bridge.storage.db import make_engine


def main() -> int:
    spec = json.loads(sys.stdin.read())
    settings = load_settings(None, **spec["config"])
    rt = Runtime.over(settings, make_engine(spec["database_url"]), Redis.from_url(spec["redis"]))
    for loan_id in spec["loans"]:
        print(loan_id, send_offline_loan(rt, int(loan_id)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
