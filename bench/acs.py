"""The reference ACS (``python -m sip2.acs.cli``) as a process of its own, as the benches use it.

Run apart from the bench's process so the ACS's own work does not share an interpreter (and its
lock) with the code being measured.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def reference_acs(
    catalogue: Path, *, behaviour: str = "koha", latency_ms: float | None = None
) -> Iterator[tuple[str, int]]:
    """Starts the reference ACS on a free port with ``catalogue``; yields (host, port) and stops
    it afterwards."""
    command = [sys.executable, "-m", "sip2.acs.cli", "--port", "0", "--behaviour", behaviour]
    command += ["--catalogue", str(catalogue)]
    if latency_ms is not None:
        command += ["--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on ([\d.]+):(\d+)", line)
        if found is None:
            raise RuntimeError(f"reference ACS did not start: {line!r}")
        yield found.group(1), int(found.group(2))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
