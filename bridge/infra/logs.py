"""One logging set-up for every process: readable text by default, JSON on request.

A filter masks what must never reach a log: SIP2 PIN (AD), login password (CO) and PIN result
(CQ), patron names/contacts (AE, DA, BE, BF, BD), and e-mail addresses and phone numbers in
free text. It runs on every record, whoever logged it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# A SIP2 field runs from its two-letter code after a '|' (or the fixed part) to the next '|'.
_SIP_FIELD = re.compile(r"(?<=\|)(AD|CO|CQ|AE|DA|BE|BF|BD)[^|\r\n]*")
# Fields may also come first after the fixed head, e.g. "63...AOinst|AA123|AD1234|".
_SIP_LEADING = re.compile(r"(?<=[0-9 YN])(AD|CO)(?=[^|\r\n]*\|)[^|\r\n]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d ()-]{7,}\d(?![\w])")
_KEYVAL = re.compile(r"(?i)\b(pin|password|passwd|secret|token|code)=([^\s&,;]+)")


def mask(text: str) -> str:
    text = _SIP_FIELD.sub(lambda m: m.group(1) + "***", text)
    text = _SIP_LEADING.sub(lambda m: m.group(1) + "***", text)
    text = _EMAIL.sub("***@***", text)
    text = _PHONE.sub("***", text)
    return _KEYVAL.sub(lambda m: m.group(1) + "=***", text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


class MaskingTextFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return mask(super().formatException(ei))


def setup_logging(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(MaskingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            MaskingTextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_lockerbridge", False):
            root.removeHandler(old)
    handler._lockerbridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Their INFO lines are noise for operators (every start prints migration plugin set-up).
    for noisy in ("alembic", "rq.worker", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
