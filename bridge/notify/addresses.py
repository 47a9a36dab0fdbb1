"""Checks an email address or phone number before anything is sent to it.

An address that fails here is a permanent failure for that channel: retrying will not fix
the patron record in the ILS; staff see it on the failed-messages page.
"""

from __future__ import annotations

import re

from bridge.notify.errors import InvalidAddress

# Deliberately plain: one @, a dotted domain, no spaces or control characters (which would
# also let a crafted ILS value inject mail headers).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")


def email_address(value: str) -> str:
    """The address, trimmed. Raises InvalidAddress."""
    address = value.strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise InvalidAddress("the patron's email address is not valid")
    return address


def phone_number(value: str) -> str:
    """The number as ``+<digits>`` or ``<digits>`` (7-15 digits, ITU-T E.164 length).

    ``00`` international prefixes become ``+``. Raises InvalidAddress.
    """
    number = _PHONE_SEPARATORS.sub("", value.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    digits = number.removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise InvalidAddress("the patron's phone number is not valid")
    return number
