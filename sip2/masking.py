"""Masking of secrets and personal data in SIP2 frames, so frames can be logged.

AD (patron PIN), CO (login password) and CQ (whether the PIN was right) are secrets; DA (hold
patron name, often with e-mail and phone at Koha) and AE (personal name) are personal data.
"""

from __future__ import annotations

import re

MASKED_CODES: tuple[str, ...] = ("AD", "CO", "CQ", "DA", "AE", "BD", "BE", "BF")
MASK = "***"

# A field starts after "|" or right after the fixed part; both cases begin with the code
# following a "|" or any character that is not a capital (the fixed part ends in digits or
# blanks). Values run to the next "|", CR, LF or end of text.
_FIELD = re.compile(r"(?P<code>(?<![A-Z])(?:" + "|".join(MASKED_CODES) + r"))(?P<value>[^|\r\n]*)")


def mask_frame(text: str) -> str:
    """Return ``text`` (one or more frames, or a repr of one) with masked field values.

    Every value of AD, CO, CQ, DA, AE, BD, BE and BF becomes ``***``; empty values stay empty
    so that "no PIN was sent" is still visible. Codes inside other values (a title containing
    "AD") are masked too when preceded by a non-capital: masking too much is the safe side.
    """

    def repl(match: re.Match[str]) -> str:
        return match.group("code") + (MASK if match.group("value") else "")

    return _FIELD.sub(repl, text)


def mask_bytes(frame: bytes, encoding: str = "utf-8") -> str:
    """Decode ``frame`` for a log line and mask it; never raises on undecodable bytes."""
    return mask_frame(frame.decode(encoding, errors="replace"))
