"""A worker killed in the middle of sending: the sweeper retries, nothing goes twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bridge.config import load_settings
from bridge.infra import outbox
from bridge.notify import MessageKind, dispatch, queue_message
from bridge.runtime import Runtime
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.core import OutboxRow
from bridge.storage.tables.notifications import NotificationRow
from tests.notify.conftest import CARD, EMAIL, PHONE, notify_config, ready_facts
from tests.support.config import REPO
from tests.support.servers import Gateway, Mailbox, wait_for

WORKER = textwrap.dedent(
    f"""
    import sys
    from redis import Redis
    from rq import Queue, SimpleWorker
    from bridge.config import load_settings
    from bridge.runtime import Runtime, install
    from ils_adapters.memory import MemoryIls

    settings = load_settings(sys.argv[1])
    rt = Runtime.from_settings(settings, redis=Redis.from_url(sys.argv[2]))
    ils = MemoryIls()
    ils.add_patron({CARD!r}, "1234", email={EMAIL!r}, phone={PHONE!r})
    rt.cached("ils:main-lobby", lambda: ils)
    install(rt)
    SimpleWorker([Queue("notifications", connection=rt.redis)], connection=rt.redis).work(
        burst=True
    )
    """
)


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Just enough TOML for the test configuration."""
    import json

    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            arrays.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines) + "\n"
    for key, value in tables:
        out += f"\n[{prefix}{key}]\n" + _toml(value, f"{prefix}{key}.")
    for key, items in arrays:
        for item in items:
            out += f"\n[[{prefix}{key}]]\n" + _toml(item, f"{prefix}{key}.")
    return out


def _worker(config: Path, redis_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(config), redis_url],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_between_channels_is_retried_by_the_sweeper_without_a_second_email(
    tmp_path: Path, mailbox: Mailbox, gateway: Gateway, embedded_redis: Any, redis_conn: Any
) -> None:
    cfg = notify_config(tmp_path, mailbox, gateway, sms={"timeout_seconds": 20})
    cfg["outbox_lease_seconds"] = 1
    config = tmp_path / "lockerbridge.toml"
    config.write_text(_toml(cfg))
    settings = load_settings(config)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    rt = Runtime.over(settings, engine, redis_conn)
    with unit_of_work(rt.sessions) as s:
        ref = queue_message(
            s,
            MessageKind.READY_FOR_PICKUP,
            bank_id="main-lobby",
            patron=CARD,
            event_key="load-9",
            facts=ready_facts(),
            now=rt.clock(),
        )
    dispatch(rt, ref)

    gateway.hang_next = 1  # the SMS request reaches the gateway and never gets an answer
    first = _worker(config, embedded_redis.url)
    try:
        assert gateway.hanging.wait(30), first.stderr.read() if first.stderr else ""
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        gateway.release.set()
    assert len(mailbox.messages) == 1
    with unit_of_work(rt.sessions) as s:
        row = s.get(NotificationRow, int(ref or 0))
        assert row is not None
        assert (row.state, row.channels_sent) == ("pending", "email")
        assert row.secrets is not None  # still needed for the SMS

    time.sleep(1.2)  # the dead worker's lease runs out
    assert outbox.sweep(rt) == 1
    second = _worker(config, embedded_redis.url)
    assert second.wait(60) == 0, second.stderr.read() if second.stderr else ""

    wait_for(lambda: len(gateway.answered) == 1)
    assert len(mailbox.messages) == 1
    with unit_of_work(rt.sessions) as s:
        row = s.get(NotificationRow, int(ref or 0))
        assert row is not None
        assert (row.state, row.channels_sent, row.secrets) == ("sent", "email,sms", None)
        box = s.scalars(select(OutboxRow).where(OutboxRow.ref == ref)).one()
        assert (box.state, box.attempts) == ("done", 2)
    engine.dispose()
