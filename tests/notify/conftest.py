"""Fixtures for the notification tests: real SMTP, a real HTTP gateway, a runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import Engine

from bridge.config import Settings, load_settings
from bridge.notify import MessageKind, queue_message
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from ils_adapters.memory import MemoryIls
from tests.support.clock import START, Clock
from tests.support.config import base_config
from tests.support.servers import Gateway, Mailbox, email_settings, start_gateway, stop_gateway

CARD = "23000000001"
EMAIL = "ada@example.org"
PHONE = "+44 7700 900123"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = start_gateway()
    yield gw
    stop_gateway(gw)


def notify_config(
    tmp_path: Path, mailbox: Mailbox, gateway: Gateway, **notifications: Any
) -> dict[str, Any]:
    n: dict[str, Any] = {
        "library_name": "Riverside Public Library",
        "website": "https://library.example",
        "max_attempts": 3,
        "email": email_settings(mailbox),
        "sms": {
            "enabled": True,
            "url": gateway.url,
            "timeout_seconds": 1,
            "headers": {"Authorization": "Bearer gw-token"},
        },
    }
    for key, value in notifications.items():
        if isinstance(value, dict) and isinstance(n.get(key), dict):
            n[key] = {**n[key], **value}
        else:
            n[key] = value
    cfg = base_config(tmp_path)
    cfg["notifications"] = n
    cfg["banks"][0]["address"] = "1 River Street"
    cfg["banks"][0]["hours"] = "Mon-Sat 8:00-20:00"
    cfg["banks"][0]["timezone"] = "Europe/London"
    return cfg


@dataclass
class World:
    rt: Runtime
    ils: MemoryIls
    clock: Clock
    mailbox: Mailbox
    gateway: Gateway

    def queue(
        self,
        kind: MessageKind = MessageKind.READY_FOR_PICKUP,
        *,
        event_key: str = "load-1",
        patron: str = CARD,
        facts: dict[str, Any] | None = None,
    ) -> str | None:
        with unit_of_work(self.rt.sessions) as s:
            return queue_message(
                s,
                kind,
                bank_id="main-lobby",
                patron=patron,
                event_key=event_key,
                facts=facts if facts is not None else ready_facts(),
                now=self.clock(),
            )


def ready_facts() -> dict[str, Any]:
    return {
        "titles": ["The Left Hand of Darkness", "Middlemarch"],
        "doors": [7],
        "code": "482913",
        "qr_token": "qGz1x7-pickup-token-Vb3kT9mWq2ZrLcN8",
        "expires": "2025-03-14",
    }


@pytest.fixture
def make_world(
    tmp_path: Path, sqlite_engine: Engine, redis_conn: Redis, mailbox: Mailbox, gateway: Gateway
) -> Iterator[Callable[..., World]]:
    def build(**notifications: Any) -> World:
        settings: Settings = load_settings(
            None, **notify_config(tmp_path, mailbox, gateway, **notifications)
        )
        clock = Clock(START)
        rt = Runtime.over(settings, sqlite_engine, redis_conn, clock)
        ils = MemoryIls(clock=clock)
        ils.add_patron(CARD, "1234", email=EMAIL, phone=PHONE, language="en")
        rt.cached("ils:main-lobby", lambda: ils)
        return World(rt, ils, clock, mailbox, gateway)

    yield build


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (bound and released): connections are refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
