"""Nothing secret or personal reaches a log line."""

from __future__ import annotations

import io
import json
import logging

from bridge.infra.logs import setup_logging


def _capture(fmt: str, *args: object) -> str:
    stream = io.StringIO()
    setup_logging("DEBUG", fmt, stream=stream)
    logging.getLogger("sip2.test").info(*args)  # type: ignore[arg-type]
    return stream.getvalue()


def test_pin_password_and_pin_result_are_masked_in_sip_frames() -> None:
    frame = "6300120251125    120000          AOMAIN|AA23000000000001|AD4321|CQY|AY1AZF00D"
    out = _capture("text", "sent %s", frame)
    assert "4321" not in out
    assert "AD***" in out and "CQ***" in out
    login = "9300CNlockers-main|COs3cret-pass|CPMAIN-LOCKER|"
    assert "s3cret-pass" not in _capture("text", login)


def test_patron_names_and_contacts_are_masked() -> None:
    frame = "101YNY20251125    120000AOMAIN|ABbook1|CTEAST|CY23000000000001|DAAna Lopez (ana@example.org, 555-123-4567)|"
    out = _capture("text", frame)
    assert "Ana Lopez" not in out and "ana@example.org" not in out and "555-123-4567" not in out


def test_free_text_emails_phone_numbers_and_pins_are_masked() -> None:
    out = _capture("text", "notify ana@example.org or +34 600 123 456 pin=1234")
    assert "ana@example.org" not in out and "600 123 456" not in out and "1234" not in out


def test_json_logs_are_one_object_per_line_and_masked() -> None:
    out = _capture("json", "login with CO%s|", "hunter2")
    record = json.loads(out.strip())
    assert record["level"] == "INFO" and "hunter2" not in record["message"]
