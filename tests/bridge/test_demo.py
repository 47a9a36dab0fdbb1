"""`lockerbridge demo` brings the whole system up and Ctrl-C takes all of it down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
from redis import Redis
from rq import Worker

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment names our demo config (children, grandchildren, Redis)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                env = fh.read()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if marker.encode() in env or marker.encode() in cmd:
            found.append(int(pid))
    return found


@pytest.mark.slow
def test_demo_serves_pages_runs_a_worker_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    demo_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.entrypoints.cli", "demo", "--port", str(port), "--dir", str(demo_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    up = True
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        assert up, (
            f"web app never answered; demo output:\n{proc.stdout.read() if proc.poll() is not None else ''}"
        )
        config = tomllib.loads((demo_dir / "lockerbridge.toml").read_text())
        redis = Redis.from_url(config["redis_url"])
        while time.monotonic() < deadline and not Worker.all(connection=redis):
            time.sleep(0.3)
        assert Worker.all(connection=redis), "no rq worker registered"
        kiosk = requests.get(f"http://127.0.0.1:{port}/kiosk/main-lobby", timeout=10)
        # Not enrolled until its token (printed by the demo) is typed in: nothing opens.
        assert kiosk.status_code == 403 and "Main Library lobby" in kiosk.text
        assert "This kiosk is not enrolled" in kiosk.text
        staff = requests.get(f"http://127.0.0.1:{port}/staff/", timeout=10, allow_redirects=True)
        assert staff.status_code == 200 and "password" in staff.text.lower()
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["redis"] == "ok"
        redis.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Staff status page" in out
    assert "Each kiosk page asks once for its kiosk token" in out
    assert "Redis: " in out and "redis-server " in out  # which Redis ran
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes_with(str(demo_dir)):
        time.sleep(0.2)
    assert _processes_with(str(demo_dir)) == [], "demo left processes running"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "web port still open after stop"


def test_demo_refuses_a_port_in_use_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bridge.entrypoints.cli",
                "demo",
                "--port",
                str(port),
                "--dir",
                str(tmp_path),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in out.stderr


def test_the_demo_writes_its_configuration_and_keys_for_its_owner_only(tmp_path: Path) -> None:
    from bridge.config import load_settings
    from bridge.entrypoints.demo import write_config
    from bridge.startup import placeholder_secrets

    path = write_config(tmp_path, web_port=8080, acs_port=6001, redis_url="embedded")
    for written in (path, tmp_path / "keys"):
        assert written.stat().st_mode & 0o777 == 0o600, written
    assert placeholder_secrets(load_settings(path)) == []  # random keys: the demo starts
