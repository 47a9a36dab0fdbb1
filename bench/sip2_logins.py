"""SIP2 logins at scale: check-ins per second with deposits spread over 500 banks, each bank
with its own SIP2 login, against the same number of check-ins at one bank, in the same run.

One installation (SQLite, embedded Redis) with ``BANKS`` return banks, each logging in to the
reference ACS (run as its own process, Koha behaviour) with an account of its own, the way most
consortia configure per-branch SIP accounts. The ILS has the default connection budget
(``max_connections`` = 2 per ILS per process). Deposits are recorded and checked in in process
(what one rq worker runs per deposit), alternating blocks of ``BLOCK`` deposits at one bank and
blocks spread round-robin over every bank, so a busy moment of the machine falls on both. The
pool's count of connections opened (each one a TCP connect and a SIP2 login, message 93) is
read before and after each block. The full run measures twice: with the ACS on this host
(a login costs little more than a TCP connect) and with the ACS answering every message after
``WAN_LATENCY_MS`` (a catalogue in a data centre, where a login costs a round trip), and
once more with every bank configured with the same SIP2 login (``sip_login`` with the same
user, password and ``location``), which the pool then shares between banks while each
check-in's AP still names the bank's branch (see docs/ils/*.md for which ILSs allow it).
With a login per bank, a third kind of block has a busy bank: every third deposit at one bank,
the others spread round-robin over the rest, where the pool keeps the busy bank's session
(``sip2.busy``) and logs in only for the single deposits elsewhere.

Target (issue 24): spread rate / one-bank rate >= 0.8.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.acs import reference_acs
from bench.figures import Figure

BANKS = 500
BLOCK = 50
REPRODUCE = "python -m bench --only sip2_logins"
TARGET = 0.8
BUSY_EVERY = 3  # in a busy block, every third deposit is at the busy bank
# A consortium's catalogue is usually in a data centre, not beside the lockers: the full run
# repeats the measurement with the ACS answering each message after this delay.
WAN_LATENCY_MS = 10.0
PATRON = "23000000009999"


SHARED = {"user": "lockers-all", "password": "pw-all", "institution": "DEMO", "location": "LBALL"}


def _catalogue(banks: int, homes: list[int]) -> dict[str, Any]:
    """Item ``i`` belongs to the branch of bank ``homes[i]``, where it is returned: a plain
    check-in, no transit to send it home."""
    due = (datetime.now(UTC) + timedelta(days=21)).isoformat()
    return {
        "institution": "DEMO",
        "branches": [
            {"code": f"LB{b:03d}", "name": f"Lockers {b:03d}", "locker_bank": True}
            for b in range(banks)
        ]
        + [{"code": "LBALL", "name": "Consortium lockers", "locker_bank": False}],
        "accounts": [
            {
                "user": f"lockers-{b:03d}",
                "password": f"pw-{b:03d}",
                "institution": "DEMO",
                "location": f"LB{b:03d}",
            }
            for b in range(banks)
        ]
        + [SHARED],
        "patrons": [{"barcode": PATRON, "pin": "1234", "first_name": "B", "last_name": "P"}],
        "items": [
            {
                "barcode": f"37{i:012d}",
                "title": f"Book {i}",
                "home": f"LB{home:03d}",
                "media": "book",
                "status": "charged",
                "charged_to": PATRON,
                "due": due,
            }
            for i, home in enumerate(homes)
        ],
    }


def _config(tmp: Path, redis_url: str, port: int, banks: int, shared: bool) -> str:
    from tests.sandbox import service_toml

    out = service_toml(f"sqlite:///{tmp}/bench.db", redis_url, port, uuid.uuid4().hex * 2)
    for b in range(banks):
        login = (
            '{ user = "lockers-all", password = "pw-all", location = "LBALL" }'
            if shared
            else f'{{ user = "lockers-{b:03d}", password = "pw-{b:03d}" }}'
        )
        out += f"""
[[banks]]
id = "bank-{b:03d}"
name = "Bank {b:03d}"
branch = "LB{b:03d}"
ils = "main-ils"
sip_login = {login}
compartment_ranges = [{{ first = 1, last = 2, size = "M", purpose = "return" }}]
"""
    return out


def _check_in(rt: Any, bank_id: str, item: str) -> None:
    from bridge.services.returns import checkin, recording

    rt.redis.flushdb()  # the job is run here, not by a worker
    deposit_id = recording.record_deposit(
        rt, bank_id=bank_id, compartment=1, item_barcode=item, deposited_at=datetime.now(UTC)
    )
    state = checkin.check_in_deposit(rt, deposit_id)
    if state is None or state.value != "checked_in":
        raise RuntimeError(f"deposit of {item} at {bank_id} ended {state}")


def _measure(quick: bool, latency_ms: float, shared: bool = False) -> list[Figure]:
    from redis import Redis

    from bench.status_page import _redis
    from bridge.config import load_settings
    from bridge.runtime import Runtime
    from bridge.services.bank_setup import sync_banks
    from bridge.storage.db import make_engine
    from bridge.storage.migrate import upgrade

    banks = 10 if quick else BANKS
    rounds = 1 if quick else 6
    block = 10 if quick else BLOCK
    modes = ("one", "spread") if shared else ("one", "spread", "busy")
    # The plan: (mode, bank) per deposit, warm-up first; item i is deposited by plan[i].
    plan: list[tuple[str, int]] = [("warm", 0)]
    spread_at = 1
    for _ in range(rounds):
        plan += [("one", 0)] * block
        for mode in modes[1:]:
            for i in range(block):
                if mode == "busy" and i % BUSY_EVERY == 0:
                    plan.append((mode, 0))
                    continue
                plan.append((mode, spread_at))
                spread_at = spread_at % (banks - 1) + 1  # bank 0 is the busy one
    seconds = dict.fromkeys(modes, 0.0)
    logins = dict.fromkeys(modes, 0)
    done = dict.fromkeys(modes, 0)
    with tempfile.TemporaryDirectory(prefix="lb-bench-logins-") as name:
        tmp = Path(name)
        (tmp / "catalogue.json").write_text(json.dumps(_catalogue(banks, [b for _, b in plan])))
        with (
            _redis(tmp) as redis_url,
            reference_acs(tmp / "catalogue.json", latency_ms=latency_ms) as (_host, port),
        ):
            cfg = tmp / "lockerbridge.toml"
            cfg.write_text(_config(tmp, redis_url, port, banks, shared))
            settings = load_settings(cfg)
            engine = make_engine(settings.database_url)
            upgrade(engine)
            rt = Runtime.over(settings, engine, Redis.from_url(redis_url))
            try:
                sync_banks(rt)
                _check_in(rt, "bank-000", f"37{0:012d}")  # warm up
                pool = rt.cached("sip2pool:main-ils", lambda: None)
                for first in range(1, len(plan), block):
                    mode = plan[first][0]
                    before = pool.stats()["connects"]
                    start = time.perf_counter()
                    for i in range(first, first + block):
                        _check_in(rt, f"bank-{plan[i][1]:03d}", f"37{i:012d}")
                    seconds[mode] += time.perf_counter() - start
                    logins[mode] += pool.stats()["connects"] - before
                    done[mode] += block
            finally:
                rt.close()
    rate = {mode: done[mode] / seconds[mode] for mode in seconds}
    where = f", ACS answering after {latency_ms:g} ms" if latency_ms else ", ACS on this host"
    if shared:
        where += ", one login shared by every bank (AP names the branch)"
    ratio = rate["spread"] / rate["one"]
    figures = [
        Figure(
            name=f"check-ins/s spread over {banks} banks / at one bank{where}",
            value=ratio,
            unit="ratio",
            target=f">= {TARGET:g}",
            passed=ratio >= TARGET,
            baseline=f"one bank: {rate['one']:.0f}/s, {logins['one']} logins for "
            f"{done['one']} check-ins; spread: {rate['spread']:.0f}/s, {logins['spread']} "
            f"logins for {done['spread']} check-ins; same run",
            reproduce=REPRODUCE,
        ),
        _logins_figure(
            f"spread over {banks} banks{where}",
            logins["spread"] / done["spread"],
            f"at one bank: {logins['one'] / done['one']:.2f}",
        ),
    ]
    if "busy" in rate:
        busy = f"every {BUSY_EVERY}rd at one busy bank"
        figures += [
            Figure(
                name=f"check-ins/s with {busy}, the rest spread over {banks - 1} banks / at one "
                f"bank{where}",
                value=rate["busy"] / rate["one"],
                unit="ratio",
                baseline=f"one bank: {rate['one']:.0f}/s; busy bank among others: "
                f"{rate['busy']:.0f}/s, {logins['busy']} logins for {done['busy']} check-ins; "
                "same run",
                reproduce=REPRODUCE,
            ),
            _logins_figure(
                f"with {busy}{where}",
                logins["busy"] / done["busy"],
                f"spread evenly: {logins['spread'] / done['spread']:.2f}",
            ),
        ]
    return figures


def _logins_figure(pattern: str, per_check_in: float, baseline: str) -> Figure:
    return Figure(
        name=f"SIP2 logins per check-in {pattern}",
        value=per_check_in,
        unit="logins",
        baseline=f"{baseline}, same run",
        reproduce=REPRODUCE,
    )


def run(quick: bool) -> list[Figure]:
    figures = _measure(quick, 0.0)
    if not quick:
        figures += _measure(quick, WAN_LATENCY_MS)
        figures += _measure(quick, WAN_LATENCY_MS, shared=True)
    return figures
