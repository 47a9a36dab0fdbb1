"""Soak: mixed traffic against the production topology, 500 banks, for a chosen time.

``make soak`` (``python -m bench.soak --minutes 30``) starts, on this machine: a PostgreSQL
database of its own, a private redis-server, the reference SIP2 server (Koha behaviour, one
SIP account per bank), gunicorn with 3 processes (4 threads each), 4 ``lockerbridge worker``
processes and the ``lockerbridge scheduler``, and 500 banks of 40 doors (10 pickup, 30 return),
each behind its own simulated HTTP lock controller that signs its events to the webhook.

Traffic, ``--rate`` events a second (default 20), each one of:

- page views (30 %): a signed-in staff member opens the overview, a bank's page or a bank's
  work list;
- deposits (35 %): a kiosk asks the API for a return door for an item on loan, the door opens
  at the controller, the item goes in, the door shuts; the door events reach the webhook, the
  deposit is recorded and a worker checks it in over SIP2;
- scans (20 %): a staff scanner at a bank scans an item that is not on hold there;
- door events (15 %): someone opens a free pickup door at the bank and shuts it again.

Staff empty return doors as they do in the library: once a bank has ``EMPTY_AT`` return doors
holding returns, a staff member opens the emptying page of each such door whose returns the
catalogue has checked in (``/staff/banks/<bank>/returns/<door>``), takes each item out of the
open door and scans it there; the last scan frees the door for returns again. Their requests
are timed as ``empty``.

Checked: every request answered as expected (0 errors, counted by kind, e.g. ``deposit:
full`` or ``page: HTTP 500``), every controller event delivered,
every deposit checked in at the end, no failed job; p95 of each request kind in the first
and the last window (5 minutes, or a third of a shorter run) within 1.5x; each web and worker
process's resident memory growing less than 10 % from the end of the first window to the end.
The table is printed, and written as JSON with ``--report`` (``bench.report`` puts it into
docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

BANKS = 500
PICKUP_DOORS = 10
RETURN_DOORS = 30
STAFF_PASSWORD = "soak staff password 1"
KIOSK_TOKEN = "soak-kiosk-token-0123456789abcdef"
SCANNER_TOKEN = "soak-scanner-token-0123456789abcd"
MIX = (("page", 30), ("deposit", 35), ("scan", 20), ("door", 15))
TIMED = ("page", "deposit", "scan", "empty")
EMPTY_AT = 3  # return doors holding returns before staff come to empty the bank's doors
KEPT_ERRORS = 10
P95_FLAT = 1.5
RSS_GROWTH = 0.10


def _key(bank: int) -> bytes:
    return f"soak-controller-key-{bank:03d}-0123456789abcdef".encode()


def _item(bank: int, n: int) -> str:
    return f"36{bank:03d}{n:07d}"


def _catalogue(path: Path, banks: int, per_bank: int) -> None:
    due = (datetime.now(UTC) + timedelta(days=21)).isoformat()
    data = {
        "institution": "DEMO",
        "branches": [
            {"code": f"LB{b:03d}", "name": f"Lockers {b:03d}", "locker_bank": True}
            for b in range(banks)
        ],
        "accounts": [
            {
                "user": f"lockers-{b:03d}",
                "password": f"pw-{b:03d}",
                "institution": "DEMO",
                "location": f"LB{b:03d}",
            }
            for b in range(banks)
        ],
        "patrons": [{"barcode": "23000000009999", "pin": "1234", "first_name": "S"}],
        "items": [
            {
                "barcode": _item(b, n),
                "title": f"Book {b}-{n}",
                "home": f"LB{b:03d}",
                "media": "book",
                "status": "charged",
                "charged_to": "23000000009999",
                "due": due,
            }
            for b in range(banks)
            for n in range(per_bank)
        ],
    }
    path.write_text(json.dumps(data))


def _config(database_url: str, redis_url: str, acs_port: int, boards: list[Any]) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "log_level": "WARNING",
        "web": {"secret_key": "s" * 40, "secure_cookies": False},
        "security": {"code_keys": ["soak-code-key-0123456789abcdef"]},
        "ils": [
            {
                "name": "main-ils",
                "profile": "koha",
                "host": "127.0.0.1",
                "port": acs_port,
                "institution": "DEMO",
                "timeout_seconds": 5,
            }
        ],
        "banks": [
            {
                "id": f"bank-{b:03d}",
                "name": f"Bank {b:03d}",
                "branch": f"LB{b:03d}",
                "ils": "main-ils",
                "sip_login": {"user": f"lockers-{b:03d}", "password": f"pw-{b:03d}"},
                "driver": {
                    "kind": "http",
                    "controller_url": board.url,
                    "signing_key": _key(b).decode(),
                },
                "compartment_ranges": [
                    {"first": 1, "last": PICKUP_DOORS, "size": "M"},
                    {
                        "first": PICKUP_DOORS + 1,
                        "last": PICKUP_DOORS + RETURN_DOORS,
                        "size": "M",
                        "purpose": "return",
                    },
                ],
            }
            for b, board in enumerate(boards)
        ],
        "api": {
            "tokens": [
                {"name": "kiosk", "token": KIOSK_TOKEN, "role": "kiosk"},
                {"name": "scanner", "token": SCANNER_TOKEN, "role": "staff"},
            ]
        },
    }


class Load:
    """The traffic: one event per tick, run on a small thread pool; records every answer."""

    def __init__(self, web: str, boards: list[Any], banks: int) -> None:
        import requests

        self.requests = requests
        self.web = web
        self.boards = boards
        self.banks = banks
        self.samples: list[tuple[float, str, float]] = []  # (at, kind, seconds)
        self.errors: list[str] = []  # the first KEPT_ERRORS, word for word
        self.error_kinds: Counter[str] = Counter()  # every error, by kind
        self.deposits = 0
        self.emptied = 0  # return doors emptied by staff scans
        self._in_door: dict[tuple[int, int], list[str]] = {}  # items behind a return door
        self._emptying: set[int] = set()  # banks where staff are emptying doors
        self._next_item = [0] * banks
        self._lock = threading.Lock()
        self._local = threading.local()
        self._doors_busy: set[tuple[int, int]] = set()

    def error(self, kind: str, detail: str) -> None:
        """Counts an error under ``kind``; the first few are kept in full."""
        with self._lock:
            self.error_kinds[kind] += 1
            if len(self.errors) < KEPT_ERRORS:
                self.errors.append(detail[:300])

    def sign_in(self) -> None:
        """One staff sign-in; each thread then uses its own session with the same cookie."""
        session = self.requests.Session()
        page = session.get(f"{self.web}/staff/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None, "no CSRF token on the sign-in page"
        form = {"username": "soak", "password": STAFF_PASSWORD, "csrf_token": token.group(1)}
        session.post(f"{self.web}/staff/login", data=form, timeout=30)
        self._cookies = session.cookies

    def _staff(self) -> Any:
        session = getattr(self._local, "staff", None)
        if session is None:
            session = self.requests.Session()
            session.cookies.update(self._cookies)
            self._local.staff = session
        return session

    def _timed(self, kind: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        answer = call()
        took = time.perf_counter() - start
        with self._lock:
            self.samples.append((time.monotonic(), kind, took))
        return answer

    def page(self, rng: random.Random) -> None:
        bank = f"bank-{rng.randrange(self.banks):03d}"
        path = rng.choice(["/staff/", f"/staff/banks/{bank}", f"/staff/work?bank={bank}"])
        session = self._staff()
        # A fresh connection per view, like the other requests: reusing one that gunicorn is
        # closing after its keep-alive time (2 s) is a race a browser hides by retrying.
        resp = self._timed(
            "page",
            lambda: session.get(self.web + path, headers={"Connection": "close"}, timeout=30),
        )
        if resp.status_code != 200 or "csrf_token" not in resp.text:
            self.error(f"page: HTTP {resp.status_code}", f"page {path}: HTTP {resp.status_code}")

    def deposit(self, rng: random.Random) -> None:
        b = rng.randrange(self.banks)
        with self._lock:
            n = self._next_item[b]
            self._next_item[b] += 1
        item = _item(b, n)
        resp = self._timed(
            "deposit",
            lambda: self.requests.post(
                f"{self.web}/api/v1/banks/bank-{b:03d}/deposits",
                json={"item": item},
                headers={"Authorization": f"Bearer {KIOSK_TOKEN}"},
                timeout=30,
            ),
        )
        answer = resp.json() if resp.status_code == 200 else {}
        if answer.get("outcome") != "door_open":
            kind = answer.get("outcome") or f"HTTP {resp.status_code}"
            self.error(f"deposit: {kind}", f"deposit {item}: HTTP {resp.status_code} {answer}")
            return
        door = int(answer["compartment"])
        self.boards[b].load(door)  # the patron puts it in, shuts the door
        with self._lock:
            self.deposits += 1
            self._in_door.setdefault((b, door), []).append(item)
            full = [d for (bank, d) in self._in_door if bank == b]
            if len(full) < EMPTY_AT or b in self._emptying:
                return
            self._emptying.add(b)
        try:
            for number in full:
                self.empty(b, number)
        finally:
            with self._lock:
                self._emptying.discard(b)

    def empty(self, b: int, number: int) -> None:
        """A staff member empties one return door by scanning each item as it comes out;
        a door whose returns are not all checked in yet is left for the next round."""
        session = self._staff()
        url = f"{self.web}/staff/banks/bank-{b:03d}/returns/{number}"
        close = {"Connection": "close"}
        resp = self._timed("empty", lambda: session.get(url, headers=close, timeout=30))
        token = re.search(r'name="csrf_token" value="([^"]+)"', resp.text)
        if resp.status_code != 200 or token is None:
            self.error(f"empty: HTTP {resp.status_code}", f"empty {url}: HTTP {resp.status_code}")
            return
        with self._lock:
            items = list(self._in_door.get((b, number), []))
        # A door whose close has not reached the bridge yet lists nothing; one whose returns
        # wait for the catalogue says so: staff come back to either on their next round.
        if "has not checked it in yet" in resp.text or any(i not in resp.text for i in items):
            return
        with self._lock:
            self._in_door.pop((b, number), None)
        sim = self.boards[b].sim
        sim.open_door(number)  # the staff key: the controller reports the door open
        for item in items:
            sim.take_item(number)
            form = {"barcode": item, "csrf_token": token.group(1)}
            resp = self._timed(
                "empty", partial(session.post, url, data=form, headers=close, timeout=30)
            )
            if resp.status_code != 200 or "not among the returns" in resp.text:
                self.error(
                    f"empty: HTTP {resp.status_code}"
                    + (" not in door" if "not among the returns" in resp.text else ""),
                    f"empty {url} {item}: HTTP {resp.status_code}",
                )
        sim.close_door(number)
        with self._lock:
            self.emptied += 1

    def scan(self, rng: random.Random) -> None:
        b = rng.randrange(self.banks)
        resp = self._timed(
            "scan",
            lambda: self.requests.post(
                f"{self.web}/api/v1/banks/bank-{b:03d}/loading/scan",
                json={"item": f"39{rng.randrange(10**10):010d}"},
                headers={"Authorization": f"Bearer {SCANNER_TOKEN}"},
                timeout=30,
            ),
        )
        if resp.status_code != 200:
            self.error(
                f"scan: HTTP {resp.status_code}",
                f"scan at bank-{b:03d}: HTTP {resp.status_code} {resp.text[:200]}",
            )

    def door(self, rng: random.Random) -> None:
        b = rng.randrange(self.banks)
        door = rng.randrange(1, PICKUP_DOORS + 1)
        with self._lock:
            if (b, door) in self._doors_busy:
                return
            self._doors_busy.add((b, door))
        try:
            sim = self.boards[b].sim
            if sim.is_open(door) or sim.items_in(door):
                return
            sim.open_door(door)
            time.sleep(0.2)
            sim.close_door(door)
        finally:
            with self._lock:
                self._doors_busy.discard((b, door))

    def run(self, seconds: float, rate: float, seed: int = 24) -> None:
        rng = random.Random(seed)
        kinds = [k for k, weight in MIX for _ in range(weight)]
        start = time.monotonic()
        tick = 0
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = []
            while (now := time.monotonic()) - start < seconds:
                due = start + tick / rate
                if due > now:
                    time.sleep(due - now)
                kind = rng.choice(kinds)
                job_rng = random.Random(rng.random())
                futures.append(pool.submit(self._guarded, kind, job_rng))
                tick += 1
                if len(futures) > 2000:
                    futures = [f for f in futures if not f.done()]
            for f in futures:
                f.result()

    def _guarded(self, kind: str, rng: random.Random) -> None:
        try:
            getattr(self, kind)(rng)
        except Exception as exc:  # every failure is counted, none stops the soak
            self.error(f"{kind}: {type(exc).__name__}", f"{kind}: {type(exc).__name__}: {exc}")


def _close_all(boards: list[Any]) -> None:
    """Each controller takes up to half a second to stop its server: stop them together."""
    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(lambda board: board.close(), boards))


def _rss_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) if found else None


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


class MemoryWatch(threading.Thread):
    """Samples the resident memory of each named process every few seconds."""

    def __init__(self, pids: Callable[[], dict[str, int]], every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.samples: dict[str, list[tuple[float, int]]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            now = time.monotonic()
            for name, pid in self.pids().items():
                kib = _rss_kib(pid)
                if kib is not None:
                    self.samples.setdefault(name, []).append((now, kib))

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def _p95(values: list[float]) -> float:
    from bench.figures import percentile

    return percentile(values, 95) * 1000 if values else float("nan")


def soak(minutes: float, rate: float, banks: int, logs: Path) -> dict[str, Any]:
    from redis import Redis
    from rq import Queue
    from sqlalchemy import func, select

    from bridge.config import load_settings
    from bridge.runtime import QUEUE_NAMES
    from bridge.services.staff.accounts import Role, add_user
    from bridge.storage.db import make_engine, session_factory, unit_of_work
    from bridge.storage.tables.returns import DepositRow
    from sip2.acs.server import ReferenceACS
    from tests.topology.controllers import BankController
    from tests.topology.procs import (
        BIN,
        Procs,
        free_port,
        gunicorn_argv,
        pg_database,
        started_redis,
        toml,
        wait_until,
    )

    seconds = minutes * 60
    window = min(300.0, seconds / 3)
    per_bank = int(rate * seconds * 0.35 / banks * 3) + 10
    logs.mkdir(parents=True, exist_ok=True)
    cleanup: list[Callable[[], Any]] = []
    procs: Procs | None = None
    try:
        with pg_database() as database_url:
            redis = started_redis(logs / "redis")
            cleanup.append(redis.close)
            _catalogue(logs / "catalogue.json", banks, per_bank)
            acs = ReferenceACS(logs / "catalogue.json", behaviour="koha")
            acs.start()
            cleanup.append(acs.stop)
            boards = [
                BankController(f"bank-{b:03d}", range(1, PICKUP_DOORS + RETURN_DOORS + 1), _key(b))
                for b in range(banks)
            ]
            cleanup.append(lambda: _close_all(boards))
            path = logs / "lockerbridge.toml"
            path.write_text(toml(_config(database_url, redis.url, acs.address[1], boards)))
            env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
            metrics = logs / "prometheus"
            metrics.mkdir(exist_ok=True)
            env.update(
                LOCKERBRIDGE_CONFIG=str(path),
                PROMETHEUS_MULTIPROC_DIR=str(metrics),
                GUNICORN_ACCESSLOG="",
            )
            procs = Procs(logs / "logs", env)
            upgrade = procs.start("upgrade", [str(BIN / "lockerbridge"), "db", "upgrade"])
            if upgrade.wait(300) != 0:
                raise RuntimeError(procs.log("upgrade")[-2000:])
            settings = load_settings(path)
            engine = make_engine(settings.database_url)
            cleanup.append(engine.dispose)
            with unit_of_work(session_factory(engine)) as s:
                add_user(s, "soak", STAFF_PASSWORD, Role.STAFF, settings=settings)
            port = free_port()
            web = f"http://127.0.0.1:{port}"
            for board in boards:
                board.webhook = web + "/api/v1/banks/{bank}/controller/events"
            gunicorn = procs.start("gunicorn", gunicorn_argv(port, workers=3, threads=4))
            workers = [
                procs.start(f"worker-{n}", [str(BIN / "lockerbridge"), "worker"])
                for n in range(1, 5)
            ]
            procs.start("scheduler", [str(BIN / "lockerbridge"), "scheduler"])
            import requests

            def web_up() -> bool:
                try:
                    return requests.get(web + "/healthz", timeout=5).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(web_up, timeout=180, what="gunicorn to answer")
            wait_until(lambda: len(_children(gunicorn.pid)) == 3, timeout=60, what="3 web")

            def pids() -> dict[str, int]:
                out = {f"web-{i + 1}": p for i, p in enumerate(sorted(_children(gunicorn.pid)))}
                out.update({f"worker-{i + 1}": w.pid for i, w in enumerate(workers)})
                return out

            load = Load(web, boards, banks)
            load.sign_in()
            watch = MemoryWatch(pids)
            watch.start()
            started = time.monotonic()
            load.run(seconds, rate)
            watch.stop()
            for board in boards:
                board.settle(60)
            # Every deposit made must be checked in (the workers drain what is left).
            sessions = session_factory(engine)

            def deposits() -> dict[str, int]:
                with unit_of_work(sessions) as s:
                    by_state = select(DepositRow.state, func.count()).group_by(DepositRow.state)
                    return {state: n for state, n in s.execute(by_state)}

            try:
                wait_until(
                    lambda: deposits().get("checked_in", 0) >= load.deposits,
                    timeout=180,
                    what="every deposit checked in",
                )
            except AssertionError as exc:
                load.error("deposits not checked in", str(exc))
            states = deposits()
            if sum(states.values()) != load.deposits or set(states) - {"checked_in"}:
                load.error("deposits unaccounted", f"deposits: {states}, made {load.deposits}")
            conn = Redis.from_url(redis.url)
            failed = sum(Queue(q, connection=conn).failed_job_registry.count for q in QUEUE_NAMES)
            conn.close()
            if failed:
                for _ in range(failed):
                    load.error("failed job", f"{failed} failed job(s)")
            for board in boards:
                for f in board.failures:
                    load.error(f"controller: {f.split(':')[0]}", f"controller {board.bank_id}: {f}")
    finally:
        if procs is not None:
            procs.stop_all()
        for close in reversed(cleanup):
            try:
                close()
            except Exception as exc:  # cleaning up must not hide the result
                print(f"soak: cleanup: {exc}", file=sys.stderr)
    first_end, last_start = started + window, started + seconds - window
    rows = []
    for kind in TIMED:
        if not any(k == kind for _, k, _ in load.samples):
            continue  # e.g. no door was due for emptying in a very short run
        first = [t for at, k, t in load.samples if k == kind and at <= first_end]
        last = [t for at, k, t in load.samples if k == kind and at >= last_start]
        p_first, p_last = _p95(first), _p95(last)
        rows.append(
            {
                "kind": kind,
                "count": sum(1 for _, k, _ in load.samples if k == kind),
                "p95_first_ms": p_first,
                "p95_last_ms": p_last,
                "ratio": p_last / p_first,
                "passed": p_last <= P95_FLAT * p_first,
            }
        )
    memory = []
    for name, samples in sorted(watch.samples.items()):
        warm = [kib for at, kib in samples if at <= first_end]
        if not warm:
            continue
        base, end = warm[-1], samples[-1][1]
        growth = end / base - 1
        memory.append(
            {
                "process": name,
                "rss_after_warmup_mib": base / 1024,
                "rss_end_mib": end / 1024,
                "peak_mib": max(k for _, k in samples) / 1024,
                "growth": growth,
                "passed": growth < RSS_GROWTH,
            }
        )
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": minutes,
        "rate": rate,
        "banks": banks,
        "events": len(load.samples),
        "deposits": load.deposits,
        "doors_emptied": load.emptied,
        "window_minutes": window / 60,
        "errors": sum(load.error_kinds.values()),
        "errors_by_kind": dict(load.error_kinds.most_common()),
        "first_errors": load.errors,
        "latency": rows,
        "memory": memory,
    }


def table(result: dict[str, Any]) -> str:
    """The soak's result as Markdown (printed, and put into docs/performance.md)."""
    w = f"{result['window_minutes']:.3g}"
    lines = [
        f"Soak of {result['minutes']:g} min at {result['rate']:g} events/s over "
        f"{result['banks']} banks ({result['when']}): {result['events']:,} timed requests, "
        f"{result['deposits']:,} deposits checked in over SIP2, **{result['errors']} errors** "
        "(target 0)."
        + (
            f" Staff emptied {result['doors_emptied']:,} return doors by scanning."
            if "doors_emptied" in result
            else ""
        ),
        "",
        f"| requests | count | p95 first {w} min | p95 last {w} min | last / first | "
        f"target <= {P95_FLAT:g}x |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["latency"]:
        lines.append(
            f"| {r['kind']} | {r['count']:,} | {r['p95_first_ms']:.1f} ms | "
            f"{r['p95_last_ms']:.1f} ms | {r['ratio']:.2f}x | "
            f"{'pass' if r['passed'] else '**miss**'} |"
        )
    lines += [
        "",
        f"| process | RSS after the first {w} min | RSS at the end | peak | growth | "
        f"target < {RSS_GROWTH:.0%} |",
        "|---|---|---|---|---|---|",
    ]
    for m in result["memory"]:
        lines.append(
            f"| {m['process']} | {m['rss_after_warmup_mib']:.0f} MiB | {m['rss_end_mib']:.0f} MiB"
            f" | {m['peak_mib']:.0f} MiB | {m['growth']:+.1%} | "
            f"{'pass' if m['passed'] else '**miss**'} |"
        )
    if result.get("errors_by_kind"):
        lines += ["", "| error | count |", "|---|---|"]
        lines += [f"| {kind} | {n:,} |" for kind, n in result["errors_by_kind"].items()]
    if result["first_errors"]:
        lines += ["", "First errors:", ""] + [f"- `{e}`" for e in result["first_errors"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--banks", type=int, default=BANKS)
    parser.add_argument("--logs", default="var/soak", help="process logs and throwaway files")
    parser.add_argument("--report", help="write the result as JSON here (for bench.report)")
    args = parser.parse_args(argv)
    result = soak(args.minutes, args.rate, args.banks, Path(args.logs))
    print(table(result))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = result["errors"] == 0 and all(r["passed"] for r in result["latency"] + result["memory"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
