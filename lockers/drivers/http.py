"""HTTP driver: for controllers that accept commands over HTTPS and call a webhook.

Commands: ``POST <base_url>/cmd/open`` and ``POST <base_url>/cmd/read`` with a JSON
``{"cmd_id", "compartment"}`` body and the ``X-Lockerbridge-*`` signing headers
(``lockers.signing``). The controller answers 200 with an ack body (see ``wire.Ack``), signed
the same way on channel "ack".

Events: the controller POSTs ``{"events": [...]}`` signed on channel "evt" to the app's webhook
route; the route hands headers and raw body to ``wire.verify_webhook`` (or
``HttpDriver.handle_webhook``) and answers 204, or 401 on ``SignatureError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import requests

from lockers.drivers.base import CompartmentReading, Dispatcher, DriverEvent, EventHandler
from lockers.drivers.wire import Ack, Command, verify_webhook
from lockers.errors import ControllerOffline, DoorDidNotOpen, DriverError, ForgedMessage
from lockers.signing import Signer, Verifier

CMD_OPEN = "cmd/open"
CMD_READ = "cmd/read"
ACK = "ack"
DEFAULT_TIMEOUT = (3.05, 10.0)  # connect, read (seconds)


class HttpDriver:
    """``LockerDriver`` for an HTTPS controller. Timeouts are always on; TLS is verified
    against the system store or ``ca_file``."""

    def __init__(
        self,
        bank_id: str,
        base_url: str,
        *,
        signer: Signer,
        verifier: Verifier,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        ca_file: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.bank_id = bank_id
        self._base = base_url.rstrip("/")
        self._signer = signer
        self._verifier = verifier
        self._timeout = timeout
        self._verify: str | bool = ca_file if ca_file is not None else True
        self._session = session or requests.Session()
        self._dispatcher = Dispatcher()

    def subscribe(self, handler: EventHandler) -> None:
        self._dispatcher.subscribe(handler)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DriverEvent]:
        """Verify a webhook call for this bank and deliver its events to the subscribers."""
        events = verify_webhook(headers, body, verifier=self._verifier, bank_id=self.bank_id)
        for event in events:
            self._dispatcher.emit(event)
        return events

    def open_door(self, compartment: int) -> None:
        ack = self._command(CMD_OPEN, compartment)
        if ack.error is not None:
            raise DoorDidNotOpen(compartment, ack.error)

    def read(self, compartment: int) -> CompartmentReading:
        ack = self._command(CMD_READ, compartment)
        if ack.error is not None:
            raise DriverError(f"read of door {compartment} failed: {ack.error}")
        return ack.reading()

    def close(self) -> None:
        self._session.close()

    def _command(self, channel: str, compartment: int) -> Ack:
        command = Command(uuid.uuid4().hex, compartment)
        message = self._signer.sign(channel, command.encode())
        headers = {"Content-Type": "application/json", **message.headers()}
        try:
            response = self._session.post(
                f"{self._base}/{channel}",
                data=message.body,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as exc:
            # Not an outage: the certificate is wrong or the CA file is missing. Fix the config.
            raise DriverError(f"TLS verification of {self.bank_id} failed: {exc}") from exc
        except requests.RequestException as exc:
            raise ControllerOffline(f"controller {self.bank_id} unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise ControllerOffline(f"controller {self.bank_id} answered {response.status_code}")
        if response.status_code != 200:
            raise DriverError(
                f"controller {self.bank_id} refused {channel}: {response.status_code}"
            )
        reply = self._verifier.verify_headers(response.headers, response.content, ACK)
        if reply.bank_id != self.bank_id:
            raise ForgedMessage(f"ack signed by bank {reply.bank_id!r}")
        ack = Ack.decode(reply.body)
        if ack.cmd_id != command.cmd_id:
            raise ForgedMessage("ack for another command")
        return ack
