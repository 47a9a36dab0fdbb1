"""One kill at every commit point of a return, a loading and a pickup, through the real
processes and entry points.

For each point (``RETURN_POINTS`` through the HTTP controller's webhook and again through an
MQTT controller, ``LOADING_POINTS`` through the staff route, ``PICKUP_POINTS`` through the
kiosk's code route; ``tests.faults.points``) the process that commits under that label is ended
right after the commit; the system is restarted around it, settles, and the invariants are
checked against the database, the ACS's ledger and the simulated controllers. One server
start-up per database serves every point. Prints the table flow x commit point -> outcome
(``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.points import (
    LOADING_POINTS,
    MQTT_BANK,
    PICKUP_POINTS,
    RETURN_POINTS,
    installation,
    run_loading,
    run_pickups,
    run_returns,
    table,
)
from tests.topology.procs import redis_server_binary


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_kill_after_any_commit_of_a_return_a_loading_or_a_pickup_loses_and_doubles_nothing(
    tmp_path: Path, database: str, pg_reason: str | None
) -> None:
    if database == "postgresql" and pg_reason is not None:
        pytest.skip(f"PostgreSQL is not reachable: {pg_reason}")
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    with installation(
        tmp_path,
        database,
        returns=2 * len(RETURN_POINTS),
        holds=len(LOADING_POINTS) + len(PICKUP_POINTS),
    ) as inst:
        outcomes = (
            run_returns(inst)
            + run_returns(inst, first_item=len(RETURN_POINTS) + 1, bank=MQTT_BANK)
            + run_loading(inst)
            + run_pickups(inst, first=len(LOADING_POINTS) + 1)
        )
    print()
    print(table(outcomes, database))
    flows = (
        ("return", RETURN_POINTS),
        ("return", RETURN_POINTS),
        ("loading", LOADING_POINTS),
        ("pickup", PICKUP_POINTS),
    )
    expected = [(f, p) for f, points in flows for p, _ in points]
    assert [(o.flow.split()[0], o.point, o.cell()) for o in outcomes] == [
        (f, p, "ok") for f, p in expected
    ]
