"""Alerts through the real pieces: the staff runtime of tests/web, a real SMTP server
(aiosmtpd) and a real HTTP webhook receiver, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Settings, load_settings
from bridge.runtime import Runtime
from bridge.services.bank_setup import sync_banks
from bridge.storage.db import make_engine
from tests.notify.conftest import START, Clock
from tests.notify.servers import Gateway, Mailbox, start_gateway, stop_gateway
from tests.web.conftest import (  # noqa: F401  (fixtures)
    accounts,
    app,
    client,
    doors,
    fresh_database,
    ils,
    migrated_db,
    web_config,
)

SECRET = "alert-webhook-secret-for-tests"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
def receiver() -> Iterator[Gateway]:
    """A chat tool's incoming-webhook endpoint: records every POST it answers."""
    gw = start_gateway()
    yield gw
    stop_gateway(gw)


@pytest.fixture
def web_settings(tmp_path: Path, mailbox: Mailbox, receiver: Gateway) -> Settings:
    cfg: dict[str, Any] = web_config(tmp_path)
    cfg["notifications"] = {
        "library_name": "Riverside Public Library",
        "email": {"host": "127.0.0.1", "port": mailbox.port, "sender": "lockers@library.example"},
    }
    cfg["alerts"] = {
        "email_to": ["desk@library.example"],
        "webhook_url": receiver.url,
        "webhook_secret": SECRET,
        "deposits_waiting_minutes": 20,
    }
    return load_settings(None, **cfg)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def rt(
    web_settings: Settings,
    redis_conn: Any,
    migrated_db: Path,  # noqa: F811
    clock: Clock,
) -> Iterator[Runtime]:
    fresh_database(web_settings, migrated_db)
    runtime = Runtime.over(web_settings, make_engine(web_settings.database_url), redis_conn)
    runtime.clock = clock
    sync_banks(runtime)
    yield runtime
    runtime.close()
