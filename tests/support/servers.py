"""Real servers for the notification and alert tests: an SMTP server and an SMS gateway (or
chat webhook) over HTTP."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller


class _EphemeralController(Controller):
    """aiosmtpd on port 0: learn the port the OS chose before the start-up self-check."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Mailbox:
    """What the SMTP server accepted, plus switches to make it misbehave."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse_data = 0  # answer 451 to this many DATA commands
        self.reject_rcpt: set[str] = set()  # answer 550 to these recipients
        self.sessions = 0
        self.controller = _EphemeralController(self, hostname="127.0.0.1", port=0)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.reject_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return "451 4.3.0 Try again later"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted"


@dataclass
class GatewayRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class Gateway:
    """An SMS gateway: records answered requests; can answer errors or hang."""

    answered: list[GatewayRequest] = field(default_factory=list)
    received: int = 0
    statuses: list[int] = field(default_factory=list)  # next answers, then 200s
    hang_next: int = 0  # don't answer this many requests until `release` is set
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"


def start_gateway() -> Gateway:
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet tests
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            gw.received += 1
            if gw.hang_next > 0:
                gw.hang_next -= 1
                gw.hanging.set()
                gw.release.wait(30)
                return
            status = gw.statuses.pop(0) if gw.statuses else 200
            if status == 200:
                parts = urlsplit(self.path)
                gw.answered.append(
                    GatewayRequest(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
            payload = b'{"status": "queued"}' if status == 200 else b'{"error": "no"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve
        do_GET = _serve

    gw.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gw.server.daemon_threads = True
    threading.Thread(target=gw.server.serve_forever, daemon=True).start()
    return gw


def stop_gateway(gw: Gateway) -> None:
    gw.release.set()
    assert gw.server is not None
    gw.server.shutdown()
    gw.server.server_close()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def email_settings(mailbox: Mailbox) -> dict[str, Any]:
    """``[notifications.email]`` sending to the test's SMTP server."""
    return {
        "enabled": True,
        "host": "127.0.0.1",
        "port": mailbox.port,
        "sender": "lockers@library.example",
        "timeout_seconds": 5,
    }
