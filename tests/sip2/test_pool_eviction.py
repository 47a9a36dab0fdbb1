"""Which bank's SIP2 session the pool closes when every bank has its own login and the budget is
spent: seen as the logins (93) the reference ACS accepted, over real TCP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sip2.acs.catalogue_file import catalogue_from_dict
from sip2.acs.modes import Modes
from sip2.acs.server import ReferenceACS
from sip2.busy import Busyness
from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from sip2.pool import SipPool
from tests.sip2.acs.support import NOW, catalogue_data

BANKS = 30


def _account(n: int) -> SipAccount:
    return SipAccount(f"bank-{n:02d}", f"pw-{n:02d}", location="MAIN-LOCKER", institution="DEMO")


def _serve(modes: Modes | None = None) -> ReferenceACS:
    data = catalogue_data()
    data["accounts"] += [
        {"user": a.user, "password": a.password, "location": a.location}
        for a in map(_account, range(BANKS))
    ]
    return ReferenceACS(catalogue_from_dict(data), clock=lambda: NOW, modes=modes)


@pytest.fixture
def acs() -> Iterator[ReferenceACS]:
    with _serve() as server:
        yield server


def _pool(acs: ReferenceACS, max_connections: int = 2) -> SipPool:
    host, port = acs.address
    return SipPool(ServerConfig(host, port, request_timeout=2.0), max_connections=max_connections)


def _busy_among_singles(busy: int, every: int, requests: int) -> list[int]:
    """``busy``'s bank on every ``every``-th request, a bank not seen before on the others."""
    others = iter(n for n in range(BANKS) if n != busy)
    return [busy if i % every == 0 else next(others) for i in range(requests)]


def test_a_busy_bank_keeps_its_session_while_single_deposits_elsewhere_come_and_go(
    acs: ReferenceACS,
) -> None:
    # busy, a, b, busy, c, d, ...: closing the least recently used session would close the busy
    # bank's before each of its requests, one login per request.
    pattern = _busy_among_singles(0, every=3, requests=30)
    pool = _pool(acs)
    try:
        for bank in pattern:
            SipClient(pool, _account(bank)).sc_status()
        assert pool.stats()["open"] == 2
    finally:
        pool.close()
    logins = acs.logins
    assert logins.count("bank-00") <= 2  # it becomes the busy one after its second request
    assert len(logins) == len(set(pattern)) + logins.count("bank-00") - 1


def test_each_bank_s_requests_reuse_its_own_idle_session_within_the_budget(
    acs: ReferenceACS,
) -> None:
    pool = _pool(acs, max_connections=3)
    try:
        for _ in range(5):
            for bank in (1, 2, 3):
                SipClient(pool, _account(bank)).sc_status()
    finally:
        pool.close()
    assert sorted(acs.logins) == ["bank-01", "bank-02", "bank-03"]


def test_with_more_banks_than_sessions_every_request_elsewhere_logs_in(acs: ReferenceACS) -> None:
    # What the budget cannot avoid: round robin over more banks than sessions.
    pool = _pool(acs)
    try:
        for _ in range(2):
            for bank in range(5):
                SipClient(pool, _account(bank)).sc_status()
    finally:
        pool.close()
    assert len(acs.logins) == 10


def test_a_server_with_a_worker_per_session_gets_the_evicted_session_back_before_the_login() -> (
    None
):
    # A pre-forking server with as many workers as the budget answers a new login only once the
    # evicted session has been closed; closed after the login, every login would time out.
    with _serve(Modes(workers=2)) as server:
        pool = _pool(server)
        try:
            for _ in range(2):
                for bank in range(5):
                    SipClient(pool, _account(bank)).sc_status()
            assert pool.stats()["open"] == 2
        finally:
            pool.close()
        assert len(server.logins) == 10


# ---------------------------------------------------------------- the rule, without sockets


@dataclass
class _Session:
    account: int
    last_used: float


def _logins(pattern: list[int], budget: int) -> dict[int, int]:
    """Logins per bank when ``pattern`` runs one request at a time through ``budget`` sessions
    closed by :class:`Busyness`, as :class:`SipPool` does."""
    busy = Busyness()
    idle: list[_Session] = []
    logins: dict[int, int] = {}
    for now, bank in enumerate(pattern):
        busy.borrowed(bank)
        mine = next((s for s in idle if s.account == bank), None)
        if mine is None:
            if len(idle) == budget:
                victim = busy.victim(idle)
                assert victim is not None
                del idle[victim]
            mine = _Session(bank, 0.0)
            idle.append(mine)
            logins[bank] = logins.get(bank, 0) + 1
        mine.last_used = float(now)
    return logins


@settings(max_examples=60, deadline=None)
@given(
    every=st.integers(min_value=2, max_value=8),
    budget=st.integers(min_value=2, max_value=4),
    requests=st.integers(min_value=20, max_value=400),
)
def test_a_bank_with_a_steady_share_of_requests_logs_in_at_most_twice(
    every: int, budget: int, requests: int
) -> None:
    others = iter(range(1, requests + 1))
    pattern = [0 if i % every == 0 else next(others) for i in range(requests)]
    assert _logins(pattern, budget)[0] <= 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=3000))
def test_the_table_of_logins_stays_as_small_as_the_recently_active_ones(
    pattern: list[int],
) -> None:
    busy = Busyness(half_life=8)
    for bank in pattern:
        busy.borrowed(bank)
    assert len(busy) <= 11 * 8
    assert busy.score(pattern[-1]) >= 1.0
