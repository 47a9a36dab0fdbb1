"""The demo's own mail catcher: a minimal SMTP server (RFC 5321's few commands a client
needs) on 127.0.0.1 that writes each message it accepts as an ``.eml`` file into a folder, and
the reading side for the demo-only "Messages sent" page (``/staff/demo/messages``).

For ``lockerbridge demo`` only, so a newcomer can follow scan -> message -> pickup in one
browser; nothing leaves the machine. Never point a real installation at it.
"""

from __future__ import annotations

import socketserver
import threading
import time
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

MAX_MESSAGE = 2 * 1024 * 1024


class _Session(socketserver.StreamRequestHandler):
    server: CatcherServer

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 lockerbridge-demo mail catcher")
        data_mode = False
        lines: list[bytes] = []
        while True:
            raw = self.rfile.readline(MAX_MESSAGE)
            if not raw:
                return
            if data_mode:
                if raw in (b".\r\n", b".\n"):
                    self.server.store(b"".join(lines))
                    lines, data_mode = [], False
                    self._say("250 OK: kept for the demo")
                    continue
                lines.append(raw[1:] if raw.startswith(b"..") else raw)  # dot-unstuffing
                continue
            verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-lockerbridge-demo")
                self._say("250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "DATA":
                data_mode = True
                self._say("354 End data with <CR><LF>.<CR><LF>")
            elif verb == "QUIT":
                self._say("221 Bye")
                return
            else:
                self._say("502 Command not implemented")


class CatcherServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(("127.0.0.1", port), _Session)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def store(self, content: bytes) -> None:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.folder / (name + ".part")
        tmp.write_bytes(content)
        tmp.rename(self.folder / name)  # the page never sees half a message


def start_catcher(folder: Path, port: int = 0) -> CatcherServer:
    server = CatcherServer(folder, port)
    threading.Thread(target=server.serve_forever, name="demo-mail", daemon=True).start()
    return server


@dataclass(frozen=True)
class Caught:
    name: str
    to: str
    subject: str
    date: str
    text: str
    has_qr: bool


def _parse(path: Path) -> EmailMessage:
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _qr(msg: EmailMessage) -> bytes | None:
    for part in msg.walk():
        if part.get_content_type() == "image/png":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def messages(folder: Path, limit: int = 50) -> list[Caught]:
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        msg = _parse(path)
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        out.append(
            Caught(
                path.stem,
                str(msg.get("To", "")),
                str(msg.get("Subject", "")),
                str(msg.get("Date", "")),
                str(text),
                _qr(msg) is not None,
            )
        )
    return out


def qr_png(folder: Path, name: str) -> bytes | None:
    path = folder / f"{name}.eml"
    if not name.replace("-", "").isalnum() or not path.is_file():
        return None
    return _qr(_parse(path))
