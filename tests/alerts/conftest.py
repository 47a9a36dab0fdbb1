"""Alerts through the real pieces: the staff runtime of tests/web, a real SMTP server
(aiosmtpd) and a real HTTP webhook receiver, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Settings, load_settings
from tests.notify.servers import Gateway, Mailbox, start_gateway, stop_gateway
from tests.support.clock import START, Clock
from tests.web.conftest import (  # noqa: F401  (fixtures)
    accounts,
    app,
    client,
    doors,
    ils,
    rt,
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
    return Clock(START)  # the staff runtime of tests/web runs on it
