"""Peak memory (VmHWM) of the web and worker processes, against a bare Python process.

- web: ``lockerbridge web`` serving the staff status page for banks with 10,000 compartments in
  total (seeded into SQLite like ``bench.status_page``: two in three doors holding an item),
  signed in as a staff user through the real form; read from ``/proc/<pid>/status`` after the
  page has been served a few times;
- worker: ``lockerbridge worker --burst`` checking in deposits against the reference ACS over
  SIP2, with the same 10,000-compartment configuration; read by the process itself at exit;
- baseline: ``python -c "import flask, sqlalchemy, rq"`` in the same run, so the figures are
  given both in MiB and as a ratio to what any Flask + SQLAlchemy + rq process costs here;
- growth: the web process at 1,000 and 10,000 compartments, and fresh worker processes after
  100, 300 and 1,000 check-ins (memory that grows with the work done would be a leak).

No memory target is set; the figures are reported for sizing hosts and containers.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.figures import Figure

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "examples" / "catalogue.json"
PER_BANK = 200
PASSWORD = "benchmark password 1"
REPRODUCE = "python -m bench --only memory"
# Items of the sample catalogue (on loan, on the shelf, on hold) plus one it does not know:
# every path of the check-in job runs, not only the happy one.
ITEMS = [f"390000000000{n:02d}" for n in range(1, 22)] + ["NOT-IN-CATALOGUE"]

# Runs the command line given after ``--`` in this process, then writes its own VmHWM to the
# file named by $LB_BENCH_HWM: a burst worker exits before anyone could read /proc from outside.
_PROBE = """
import atexit, os, sys
def _hwm():
    with open("/proc/self/status") as fh, open(os.environ["LB_BENCH_HWM"], "w") as out:
        out.write(next(line for line in fh if line.startswith("VmHWM")))
atexit.register(_hwm)
exec(sys.argv[1])
"""


def _hwm_kib(status_text: str, key: str = "VmHWM") -> int:
    """A memory line (peak ``VmHWM`` or current ``VmRSS``) of /proc/<pid>/status, in KiB."""
    found = re.search(key + r":\s+(\d+) kB", status_text)
    if found is None:
        raise RuntimeError(f"no {key} in {status_text[:80]!r}")
    return int(found.group(1))


class _Probe:
    """``code`` running in a fresh interpreter; :meth:`result` waits for its peak memory."""

    def __init__(self, code: str) -> None:
        self._out = tempfile.NamedTemporaryFile("r", suffix=".hwm")  # noqa: SIM115 - closed in result()
        self.started = time.perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _PROBE, code],
            env={**os.environ, "LB_BENCH_HWM": self._out.name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )

    def result(self, timeout: float = 600) -> tuple[int, float]:
        """Peak resident memory in KiB and the seconds the process ran."""
        try:
            _, err = self._proc.communicate(timeout=timeout)
            seconds = time.perf_counter() - self.started
            if self._proc.returncode != 0:
                raise RuntimeError(f"probe failed ({self._proc.returncode}): {err[-1500:]}")
            return _hwm_kib(Path(self._out.name).read_text()), seconds
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._out.close()


def baseline_kib() -> int:
    return _Probe("import flask, sqlalchemy, rq").result()[0]


def _config_toml(tmp: Path, total: int, redis_url: str, acs_port: int) -> str:
    banks = []
    for b in range(max(1, total // PER_BANK)):
        banks.append(
            f"""
[[banks]]
id = "bank-{b:03d}"
name = "Bank {b:03d}"
branch = "MAIN-LOCKER"
ils = "main-ils"
sip_login = {{ user = "lockers-main", password = "demo-main" }}
compartment_ranges = [
  {{ first = 1, last = {PER_BANK - 10}, size = "M" }},
  {{ first = {PER_BANK - 9}, last = {PER_BANK}, size = "L", purpose = "return" }},
]
"""
        )
    from tests.sandbox import service_toml

    header = service_toml(
        f"sqlite:///{tmp}/bench.db", redis_url, acs_port, "m" * 40, ils_timeout=5.0
    )
    return header + "".join(banks)


@contextmanager
def _installation(total: int) -> Iterator[tuple[Any, Path]]:
    """A seeded database, an embedded Redis and a reference ACS; yields (runtime, config)."""
    from redis import Redis

    from bench.acs import reference_acs
    from bench.status_page import _seed
    from bridge.config import load_settings
    from bridge.infra.redis_conn import EmbeddedRedis
    from bridge.runtime import Runtime
    from bridge.services.staff.accounts import Role, add_user
    from bridge.storage.db import make_engine, unit_of_work
    from bridge.storage.migrate import upgrade

    with (
        tempfile.TemporaryDirectory(prefix="lb-bench-memory-") as tmp_name,
        reference_acs(CATALOGUE, behaviour="evergreen") as (_host, acs_port),
    ):
        tmp = Path(tmp_name)
        redis_server = EmbeddedRedis(tmp / "redis")
        try:
            cfg = tmp / "lockerbridge.toml"
            cfg.write_text(_config_toml(tmp, total, redis_server.url, acs_port), encoding="utf-8")
            settings = load_settings(cfg)
            engine = make_engine(settings.database_url)
            upgrade(engine)
            rt = Runtime.over(settings, engine, Redis.from_url(redis_server.url))
            try:
                _seed(rt)
                with unit_of_work(rt.sessions) as s:
                    add_user(s, "bench", PASSWORD, Role.STAFF)
                yield rt, cfg
            finally:
                engine.dispose()
        finally:
            redis_server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"web process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"web process did not listen on {port} within {timeout} s")


def _sign_in_and_load(base: str, loads: int) -> None:
    """Sign in through the real form, then load the status page ``loads`` times."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(f"{base}/staff/login", timeout=60).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("the sign-in page has no CSRF token")
    form = {"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
    opener.open(f"{base}/staff/login", urllib.parse.urlencode(form).encode(), timeout=60).read()
    for _ in range(loads):
        with opener.open(f"{base}/staff/", timeout=120) as resp:
            body = resp.read()
            if resp.status != 200 or b"csrf_token" not in body:
                raise RuntimeError(f"status page not served signed in ({resp.status})")


def web_kib(cfg: Path, loads: int) -> tuple[int, int]:
    """Peak and current memory (KiB) of ``lockerbridge web`` after serving the status page
    ``loads`` times."""
    port = _free_port()
    command = [sys.executable, "-m", "bridge.entrypoints.cli", "-c", str(cfg), "web"]
    command += ["--port", str(port), "--host", "127.0.0.1"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, proc)
        _sign_in_and_load(f"http://127.0.0.1:{port}", loads)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return _hwm_kib(status), _hwm_kib(status, "VmRSS")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_worker(rt: Any, cfg: Path, deposits: int) -> _Probe:
    """Record ``deposits`` deposits, then start ``lockerbridge worker --burst`` on them."""
    from bridge.services.returns.recording import record_deposit

    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    for n in range(deposits):
        record_deposit(
            rt,
            bank_id=f"bank-{n % len(rt.settings.banks):03d}",
            compartment=PER_BANK,
            item_barcode=ITEMS[n % len(ITEMS)],
            deposited_at=when,
        )
    code = "from bridge.entrypoints.cli import main; "
    code += f"main(['-c', {str(cfg)!r}, 'worker', '--burst'])"
    return _Probe(code)


def _mib(kib: int) -> float:
    return kib / 1024


def _growth(name: str, points: dict[int, int], x_label: str, what: str) -> Figure:
    """Memory at the largest size over memory at the smallest; ``what`` names the baseline."""
    first, last = min(points), max(points)
    return Figure(
        name=name,
        value=points[last] / points[first],
        unit="x",
        baseline=f"{what} at {first:,}: {_mib(points[first]):.0f} MiB, same run",
        reproduce=REPRODUCE,
        samples=[float(v) for n in sorted(points) for v in (n, _mib(points[n]))],
        plot="growth",
        samples_unit="MiB",
        x_label=x_label,
    )


def run(quick: bool) -> list[Figure]:
    sizes = (400,) if quick else (1_000, 10_000)
    batches = (10,) if quick else (100, 300, 1_000)
    base = baseline_kib()
    web: dict[int, tuple[int, int]] = {}
    worker: dict[int, tuple[int, float]] = {}
    for total in sizes:
        with _installation(total) as (rt, cfg):
            if total != sizes[-1]:
                web[total] = web_kib(cfg, loads=2 if quick else 5)
                continue
            # The first burst runs while the web process serves: each process's own peak is
            # what is read, and the run is shorter. Each burst is a fresh worker process.
            burst = start_worker(rt, cfg, batches[0])
            web[total] = web_kib(cfg, loads=2 if quick else 5)
            worker[batches[0]] = burst.result()
            for deposits in batches[1:]:
                worker[deposits] = start_worker(rt, cfg, deposits).result()
    total, deposits = sizes[-1], batches[-1]
    web_peak, web_now = web[total]
    worker_peak, seconds = worker[deposits]
    baseline = f"bare `python -c 'import flask, sqlalchemy, rq'`: {_mib(base):.1f} MiB, same run"
    figures: list[Figure] = []
    for role, kib, what in (
        (
            "web",
            web_peak,
            f"`lockerbridge web` serving the staff status page at {total:,} compartments "
            f"(resident afterwards: {_mib(web_now):.0f} MiB; the peak includes argon2id's "
            "working memory for the sign-in, 64 MiB with argon2-cffi's defaults)",
        ),
        (
            "worker",
            worker_peak,
            f"`lockerbridge worker --burst` after {deposits:,} check-ins over SIP2 "
            f"({seconds:.1f} s with start-up) at {total:,} compartments",
        ),
    ):
        count = f"{total:,} compartments" + (
            f", {deposits:,} check-ins" if role == "worker" else ""
        )
        figures.append(
            Figure(
                name=f"{role} process peak memory (VmHWM), {count}",
                value=_mib(kib),
                unit="MiB",
                baseline=baseline,
                reproduce=REPRODUCE,
            )
        )
        figures.append(
            Figure(
                name=f"{role} process peak memory / bare Flask+SQLAlchemy+rq process",
                value=kib / base,
                unit="x",
                baseline=f"{what}; divided by the {baseline}",
                reproduce=REPRODUCE,
            )
        )
    if len(web) > 1:
        # Resident memory after serving, not the peak: the sign-in's argon2id hash (64 MiB)
        # sets the peak at every size and would hide what the page itself costs.
        resident = {n: now for n, (_peak, now) in web.items()}
        figures.append(
            _growth(
                f"web resident memory growth {min(resident):,} -> {max(resident):,} compartments",
                resident,
                "compartments",
                "resident memory after serving the status page",
            )
        )
    if len(worker) > 1:
        peaks = {n: peak for n, (peak, _s) in worker.items()}
        figures.append(
            _growth(
                f"worker peak memory growth {min(peaks):,} -> {max(peaks):,} check-ins",
                peaks,
                "deposits checked in by one worker process",
                "peak memory of a worker after this many check-ins",
            )
        )
    return figures


if __name__ == "__main__":
    for fig in run(quick="--full" not in sys.argv):
        print(f"{fig.name}: {fig.value:.3g} {fig.unit} ({fig.baseline})")
