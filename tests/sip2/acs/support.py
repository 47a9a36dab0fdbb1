"""A small catalogue and a raw SIP2 socket client for the reference ACS tests."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

from sip2.acs.catalogue import Catalogue
from sip2.acs.catalogue_file import catalogue_from_dict
from sip2.codec import Decoded, Message, decode, encode
from sip2.dates import format_date

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
STAMP = format_date(NOW, server_tz=UTC)

ANA, BEN, ERIN, FARID, GRACE = (f"2300000000000{n}" for n in (1, 2, 5, 6, 7))
# Items: BOOK_HOLD_HERE has a hold for MAIN-LOCKER; EAST_BOOK has a hold for MAIN-LOCKER but is
# owned by EAST; LOANED is on loan to Ben with a hold for Ana at MAIN-LOCKER; PLAIN has no hold.
BOOK_HOLD_HERE, EAST_BOOK, LOANED, PLAIN, LAPTOP, HOTSPOT, WAITING = (
    f"3900000000000{n}" for n in range(1, 8)
)


def catalogue_data() -> dict[str, Any]:
    def patron(barcode: str, first: str, pin: str, **extra: Any) -> dict[str, Any]:
        return {
            "barcode": barcode,
            "pin": pin,
            "first_name": first,
            "last_name": "Tester",
            "email": f"{first.lower()}@example.org",
            "phone": "555-0100",
            "language": "es" if first == "Ana" else "en",
            **extra,
        }

    def item(barcode: str, title: str, home: str, **extra: Any) -> dict[str, Any]:
        return {"barcode": barcode, "title": title, "home": home, **extra}

    return {
        "_about": "test catalogue",
        "institution": "DEMO",
        "fine_limit": "5.00",
        "overdue_fine_per_day": "0.50",
        "branches": [{"code": code} for code in ("MAIN", "MAIN-LOCKER", "EAST", "EAST-LOCKER")],
        "accounts": [
            {"user": "lockers-main", "password": "demo-main", "location": "MAIN-LOCKER"},
            {"user": "lockers-east", "password": "demo-east", "location": "EAST-LOCKER"},
            {
                "user": "lenient",
                "password": "pw",
                "location": "MAIN-LOCKER",
                "checked_in_ok": True,
            },
        ],
        "patrons": [
            patron(ANA, "Ana", "1234"),
            patron(BEN, "Ben", "2345"),
            patron(ERIN, "Erin", "5678", blocked=True),
            patron(FARID, "Farid", "6789", fines="12.50"),
            patron(GRACE, "Grace", "7890", category="child"),
        ],
        "items": [
            item(BOOK_HOLD_HERE, "Kindred", "MAIN", record="kindred"),
            item(EAST_BOOK, "Roma", "EAST"),
            item(
                LOANED,
                "Dune",
                "MAIN",
                status="charged",
                charged_to=BEN,
                due="2025-03-01T23:59:00+00:00",
            ),
            item(PLAIN, "Beloved", "MAIN"),
            item(LAPTOP, "Laptop 01", "MAIN", media="equipment", categories=["adult"]),
            item(HOTSPOT, "Hotspot 01", "MAIN", media="equipment", fee="2.00"),
            item(WAITING, "Ficciones", "EAST", status="on_hold_shelf", at="EAST-LOCKER"),
        ],
        "holds": [
            {"id": "H1", "patron": ANA, "item": BOOK_HOLD_HERE, "pickup": "MAIN-LOCKER"},
            {"id": "H2", "patron": BEN, "item": EAST_BOOK, "pickup": "MAIN-LOCKER"},
            {"id": "H3", "patron": ANA, "item": LOANED, "pickup": "MAIN-LOCKER"},
            {
                "id": "H4",
                "patron": BEN,
                "item": WAITING,
                "pickup": "EAST-LOCKER",
                "state": "waiting",
                "captured_item": WAITING,
                "shelf_expires": "2025-03-17",
            },
        ],
    }


def small_catalogue() -> Catalogue:
    return catalogue_from_dict(catalogue_data())


class RawClient:
    """Speaks SIP2 bytes over a real socket, nothing more: the server under test does the rest."""

    def __init__(self, address: tuple[str, int], timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buffer = b""
        self.sequence = 0

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: Message, *, checksum: bool = False) -> None:
        self.sequence = (self.sequence + 1) % 10
        self.sock.sendall(encode(message, sequence=self.sequence, error_detection=checksum))

    def read_raw(self) -> bytes:
        """One frame including its terminator; b"" when the server closed the connection."""
        while b"\r" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                return b""
            self.buffer += chunk
        end = self.buffer.index(b"\r") + 1
        if self.buffer[end : end + 1] == b"\n":
            end += 1
        frame, self.buffer = self.buffer[:end], self.buffer[end:]
        return frame

    def read(self) -> Decoded:
        frame = self.read_raw()
        assert frame, "the server closed the connection instead of replying"
        return decode(frame)

    def ask(self, message: Message, *, checksum: bool = False) -> Message:
        self.send(message, checksum=checksum)
        return self.read().message

    def is_closed(self) -> bool:
        """True when the server has closed (EOF or reset) within the socket timeout."""
        try:
            return self.sock.recv(4096) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def login(self, user: str = "lockers-main", password: str = "demo-main") -> Message:
        return self.ask(login(user, password))


def login(user: str, password: str) -> Message:
    return Message.build(
        "93", [("CN", user), ("CO", password), ("CP", "")], uid_algorithm="0", pwd_algorithm="0"
    )


def checkin(barcode: str, location: str = "MAIN-LOCKER", returned: str = STAMP) -> Message:
    return Message.build(
        "09",
        [("AP", location), ("AO", "DEMO"), ("AB", barcode), ("AC", "")],
        no_block="N",
        transaction_date=STAMP,
        return_date=returned,
    )


def checkout(patron: str, barcode: str, *, pin: str | None = None, fee: bool = False) -> Message:
    return Message.build(
        "11",
        [
            ("AO", "DEMO"),
            ("AA", patron),
            ("AB", barcode),
            ("AC", ""),
            ("AD", pin),
            ("BO", "Y" if fee else None),
        ],
        sc_renewal_policy="N",
        no_block="N",
        transaction_date=STAMP,
        nb_due_date=" " * 18,
    )


def item_information(barcode: str) -> Message:
    return Message.build("17", [("AO", "DEMO"), ("AB", barcode)], transaction_date=STAMP)


def patron_information(patron: str, pin: str | None = None, summary: str = " " * 10) -> Message:
    return Message.build(
        "63",
        [("AO", "DEMO"), ("AA", patron), ("AC", ""), ("AD", pin)],
        language="001",
        transaction_date=STAMP,
        summary=summary,
    )


def sc_status() -> Message:
    return Message.build("99", status_code="0", max_print_width="080", protocol_version="2.00")
