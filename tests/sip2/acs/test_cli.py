"""``lockerbridge acs`` as a real process: prints its address, serves, stops on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sip2.acs.cli import main
from tests.sip2.acs.support import RawClient, item_information

REPO = Path(__file__).resolve().parents[3]
CATALOGUE = REPO / "examples" / "catalogue.json"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_acs_command_serves_the_sample_catalogue_and_exits_cleanly_on_a_signal(
    sig: signal.Signals,
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sip2.acs.cli",
            "--catalogue",
            str(CATALOGUE),
            "--port",
            "0",
            "--behaviour",
            "evergreen",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        client = RawClient(("127.0.0.1", port))
        assert client.login("lockers-east", "demo-east").fixed_value("ok") == "1"
        reply = client.ask(item_information("39000000000014"))
        assert reply.fixed_value("circulation_status") == "08"  # Diego's hold, waiting
        client.close()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def test_a_missing_catalogue_file_exits_with_status_2(tmp_path: Path) -> None:
    assert main(["--catalogue", str(tmp_path / "none.json"), "--port", "0"]) == 2


def test_a_malformed_catalogue_exits_with_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": [{"barcode": "1"}]}')
    assert main(["--catalogue", str(bad), "--port", "0"]) == 2
