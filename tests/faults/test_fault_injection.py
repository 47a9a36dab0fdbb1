"""200 deposits while workers are SIGKILLed, Redis restarts and the ACS misbehaves: none lost,
none checked in twice (the full size: ``python -m tests.faults.run --deposits 1000``)."""

from __future__ import annotations

import pytest

from tests.faults.harness import Plan, run


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_no_deposit_is_lost_or_checked_in_twice_under_worker_redis_and_ils_faults() -> None:
    report = run(Plan(deposits=200))
    print(report.table())
    assert report.problems == []
    assert (report.lost, report.doubled) == (0, 0)
    assert report.deposits == report.checked_in + report.needs_staff == 200
    # The faults really happened.
    assert report.worker_kills >= 1
    assert report.redis_restarts == 1 and report.acs_outages == 1
    assert report.replies_dropped >= 10
    # A stuck deposit is retried within the two minutes promised (here time is compressed).
    assert report.max_retry_delay < 120
