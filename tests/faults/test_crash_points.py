"""One kill at every commit point of a return, a loading, a pickup (by code, card + PIN, QR and
phone link), an equipment loan, a day-use reservation and an inter-library loan, through the
real processes and entry points.

For each point (``RETURN_POINTS`` through the HTTP controller's webhook and again through an
MQTT controller, ``LOADING_POINTS`` through the staff route, ``PICKUP_POINTS`` through the
kiosk's code route, ``CARD_POINTS`` / ``QR_POINTS`` through the kiosk's card and QR routes,
``PHONE_POINTS`` through the phone link's page, ``EQUIPMENT_POINTS`` through the kiosk's borrow
route, ``DAYUSE_POINTS`` / ``DAYUSE_FINISH_POINTS`` through the kiosk's day-use page and
``DAYUSE_PHONE_POINTS`` / ``DAYUSE_PHONE_FINISH_POINTS`` through the phone's, ``ILL_POINTS`` from the lending library's AcceptItem over NCIP (HTTP) to its CheckInItem;
``tests.faults.points``) the process that commits under that label is ended right after the
commit; the system is restarted around it, settles, and the invariants are checked against the
database, the ACS's ledger and the simulated controllers. One server start-up per database
serves every point. Prints the table flow x commit point -> outcome (``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.points import (
    CARD_POINTS,
    DAYUSE_FINISH_POINTS,
    DAYUSE_PHONE_FINISH_POINTS,
    DAYUSE_PHONE_POINTS,
    DAYUSE_POINTS,
    EQUIPMENT_POINTS,
    ILL_POINTS,
    LOADING_POINTS,
    MQTT_BANK,
    PHONE_POINTS,
    PICKUP_POINTS,
    QR_POINTS,
    RETURN_POINTS,
    installation,
    run_dayuse,
    run_equipment,
    run_ill,
    run_loading,
    run_pickups,
    run_returns,
    table,
)
from tests.topology.procs import redis_server_binary

WAYS = (("code", PICKUP_POINTS), ("card", CARD_POINTS), ("qr", QR_POINTS), ("phone", PHONE_POINTS))


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_kill_after_any_commit_of_any_flow_loses_and_doubles_nothing(
    tmp_path: Path, database: str, pg_reason: str | None
) -> None:
    if database == "postgresql" and pg_reason is not None:
        pytest.skip(f"PostgreSQL is not reachable: {pg_reason}")
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    pickups = sum(len(points) for _, points in WAYS)
    with installation(
        tmp_path,
        database,
        returns=2 * len(RETURN_POINTS),
        holds=len(LOADING_POINTS) + pickups,
        others=len(EQUIPMENT_POINTS)
        + len(DAYUSE_POINTS)
        + len(DAYUSE_FINISH_POINTS)
        + len(DAYUSE_PHONE_POINTS)
        + len(DAYUSE_PHONE_FINISH_POINTS)
        + len(ILL_POINTS),
    ) as inst:
        outcomes = (
            run_returns(inst)
            + run_returns(inst, first_item=len(RETURN_POINTS) + 1, bank=MQTT_BANK)
            + run_loading(inst)
        )
        first = len(LOADING_POINTS) + 1
        for way, points in WAYS:
            outcomes += run_pickups(inst, points, first=first, way=way)
            first += len(points)
        outcomes += run_equipment(inst, EQUIPMENT_POINTS)
        first = len(EQUIPMENT_POINTS) + 1
        outcomes += run_dayuse(inst, DAYUSE_POINTS, finishing=DAYUSE_FINISH_POINTS, first=first)
        first += len(DAYUSE_POINTS) + len(DAYUSE_FINISH_POINTS)
        outcomes += run_dayuse(
            inst,
            DAYUSE_PHONE_POINTS,
            finishing=DAYUSE_PHONE_FINISH_POINTS,
            first=first,
            way="phone",
        )
        first += len(DAYUSE_PHONE_POINTS) + len(DAYUSE_PHONE_FINISH_POINTS)
        outcomes += run_ill(inst, ILL_POINTS, first=first)
    print()
    print(table(outcomes, database))
    flows = (
        RETURN_POINTS,
        RETURN_POINTS,
        LOADING_POINTS,
        *(points for _, points in WAYS),
        EQUIPMENT_POINTS,
        DAYUSE_POINTS,
        DAYUSE_FINISH_POINTS,
        DAYUSE_PHONE_POINTS,
        DAYUSE_PHONE_FINISH_POINTS,
        ILL_POINTS,
    )
    expected = [p for points in flows for p, _ in points]
    assert [(o.point, o.cell()) for o in outcomes] == [(p, "ok") for p in expected]
