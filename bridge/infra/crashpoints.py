"""Test-only crash points: end the process right after a named commit.

Every transaction goes through :func:`bridge.storage.db.unit_of_work`, and every one of them is a
commit point. A commit point's label is the module and function that opened the transaction,
e.g. ``doors.events.door_closed`` or ``returns.check_in_deposit`` (the prefix ``bridge.services.``,
``bridge.web.``, ``bridge.infra.``, ``bridge.entrypoints.`` or ``bridge.`` dropped, so
``bridge.services.access.verification`` gives ``access.verification.verify_secret``); a caller
may name it explicitly instead.

``LOCKERBRIDGE_CRASH_AT="label[:occurrence]"`` makes the process that reaches that label for the
``occurrence``-th time (1 when omitted) end with ``os._exit(CRASH_STATUS)`` immediately after
the commit: no ``finally`` blocks, no atexit handlers, no flushing, as a SIGKILL or a power cut
would leave it. ``LOCKERBRIDGE_CRASH_TRACE=<file>`` appends ``pid label`` to that file at every
commit point (how the fault suite learns a flow's commit points).

``LOCKERBRIDGE_CRASH_CONTROL=<dir>`` lets a test arm one crash in processes already running:
it writes ``label[:n] #arming-id`` to ``<dir>/armed``; the first process of the installation
to reach that label (for the n-th time since it was armed, counted per process) renames the
file to ``<dir>/fired`` (the rename succeeds for one process only) and ends. A process
restarted after the crash finds nothing armed and runs on.

The variables are read once, at import. Unset (production), :func:`reached` is one comparison.
"""

from __future__ import annotations

import os
import sys
import threading

ENV_CRASH_AT = "LOCKERBRIDGE_CRASH_AT"
ENV_TRACE = "LOCKERBRIDGE_CRASH_TRACE"
ENV_CONTROL = "LOCKERBRIDGE_CRASH_CONTROL"
CRASH_STATUS = 86  # what a crashed process exits with, told apart from a real failure

# Dropped from a module name to make its label (the longest first).
LABEL_PREFIXES = (
    "bridge.services.",
    "bridge.web.",
    "bridge.infra.",
    "bridge.entrypoints.",
    "bridge.",
)

_lock = threading.Lock()
_counts: dict[str, int] = {}
_armed_counts: dict[str, int] = {}  # per armed text, so a new arming starts from zero


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    label, _, nth = spec.partition(":")
    return label.strip(), int(nth) if nth.strip() else 1


_target = _parse(os.environ.get(ENV_CRASH_AT))
_trace = os.environ.get(ENV_TRACE) or None
_control = os.environ.get(ENV_CONTROL) or None
ACTIVE = _target is not None or _trace is not None or _control is not None


def label_of_caller(depth: int) -> str:
    """``module.function`` of the frame ``depth`` levels above the caller (only called when
    :data:`ACTIVE`)."""
    frame = sys._getframe(depth + 1)
    module = str(frame.f_globals.get("__name__", "?"))
    for prefix in LABEL_PREFIXES:
        if module.startswith(prefix):
            module = module[len(prefix) :]
            break
    return f"{module}.{frame.f_code.co_name}"


def reached(label: str | None) -> None:
    """Called right after a commit; ends the process when it is the configured crash point."""
    if not ACTIVE or label is None:
        return
    if _trace is not None:
        with _lock, open(_trace, "a") as out:
            out.write(f"{os.getpid()} {label}\n")
    if _control is not None:
        _armed_crash(_control, label)
    if _target is None or _target[0] != label:
        return
    with _lock:
        _counts[label] = _counts.get(label, 0) + 1
        hit = _counts[label] == _target[1]
    if hit:
        _exit(f"{label}:{_target[1]}")


def _armed_crash(control: str, label: str) -> None:
    armed = os.path.join(control, "armed")
    try:
        with open(armed) as f:
            wanted = f.read().strip()
    except FileNotFoundError:
        return
    parsed = _parse(wanted.partition("#")[0])  # "#..." tells one arming from the next
    if parsed is None or parsed[0] != label:
        return
    with _lock:
        if wanted not in _armed_counts:
            _armed_counts.clear()
        _armed_counts[wanted] = _armed_counts.get(wanted, 0) + 1
        if _armed_counts[wanted] != parsed[1]:
            return
    try:
        os.rename(armed, os.path.join(control, "fired"))
    except FileNotFoundError:
        return  # another process got there first
    _exit(label)


def _exit(what: str) -> None:
    sys.stderr.write(f"lockerbridge: crash point {what} reached (pid {os.getpid()})\n")
    sys.stderr.flush()
    os._exit(CRASH_STATUS)
