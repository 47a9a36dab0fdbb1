"""The crash-point hook: which commit ends the process, and nothing at all when unset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bridge.infra.crashpoints import CRASH_STATUS, ENV_CRASH_AT, ENV_TRACE
from tests.support.config import REPO

# Three commits labelled "here", each followed by a line on stdout.
SCRIPT = """
from bridge.storage.db import make_engine, session_factory, unit_of_work
sessions = session_factory(make_engine("sqlite:///:memory:"))
def here():
    with unit_of_work(sessions):
        pass
for n in range(3):
    here()
    print(n, flush=True)
with unit_of_work(sessions, label="named"):
    pass
print("end", flush=True)
"""


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (ENV_CRASH_AT, ENV_TRACE)}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**clean, **env},
        timeout=60,
    )


def test_the_named_occurrence_of_a_commit_point_ends_the_process_right_after_it() -> None:
    second = _run(**{ENV_CRASH_AT: "__main__.here:2"})
    assert (second.returncode, second.stdout.split()) == (CRASH_STATUS, ["0"])
    first = _run(**{ENV_CRASH_AT: "__main__.here"})
    assert (first.returncode, first.stdout.split()) == (CRASH_STATUS, [])
    named = _run(**{ENV_CRASH_AT: "named"})
    assert (named.returncode, named.stdout.split()) == (CRASH_STATUS, ["0", "1", "2"])


def test_unset_or_elsewhere_the_process_runs_to_its_end(tmp_path: Path) -> None:
    assert _run().stdout.split() == ["0", "1", "2", "end"]
    assert _run(**{ENV_CRASH_AT: "__main__.here:4"}).stdout.split()[-1] == "end"
    trace = tmp_path / "trace"
    assert _run(**{ENV_TRACE: str(trace)}).returncode == 0
    labels = [line.split()[1] for line in trace.read_text().splitlines()]
    assert labels == ["__main__.here"] * 3 + ["named"]
