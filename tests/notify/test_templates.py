"""Templates: every message in every shipped language, library overrides, language choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import Settings, load_settings
from bridge.notify import addresses
from bridge.notify.errors import InvalidAddress, TemplateProblem
from bridge.notify.kinds import MessageKind
from bridge.notify.message import template_context
from bridge.notify.templates import Templates, language_candidates
from tests.support.config import base_config

FACTS: dict[str, Any] = {
    "titles": ["Dune"],
    "doors": [4],
    "expires": "2025-03-14",
    "due": "2025-03-30T16:00:00+00:00",
    "picked_up_at": "2025-03-11T10:05:00+00:00",
    "returned_at": "2025-03-11T10:05:00+00:00",
}
SECRETS = {"code": "482913", "qr_token": "tok"}


def _settings(tmp_path: Path, **notifications: Any) -> Settings:
    cfg = base_config(tmp_path)
    cfg["notifications"] = {"library_name": "Riverside Public Library", **notifications}
    return load_settings(None, **cfg)


def _render(settings: Settings, kind: MessageKind, language: str, **bank: Any) -> Any:
    b = settings.banks[0].model_copy(update=bank)
    ctx = template_context(settings.notifications, b, FACTS, SECRETS, qr_src="cid:qr@x")
    return Templates(settings.notifications).render(kind, language, ctx)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_message_renders_in_every_shipped_language(
    tmp_path: Path, kind: MessageKind, language: str
) -> None:
    msg = _render(_settings(tmp_path), kind, language)
    assert msg.language == language
    assert msg.subject and "\n" not in msg.subject
    for part in (msg.text, msg.html, msg.sms):
        assert "None" not in part
        assert "Riverside Public Library" in part
    assert "Main Library lobby" in msg.text
    assert f'<html lang="{language}">' in msg.html
    assert "Dune" in msg.text and "Dune" in msg.html
    assert len(msg.sms) <= 320  # at most two or three SMS segments


@pytest.mark.parametrize("kind", list(MessageKind))
def test_the_spanish_messages_are_not_the_english_ones(tmp_path: Path, kind: MessageKind) -> None:
    settings = _settings(tmp_path)
    en, es = _render(settings, kind, "en"), _render(settings, kind, "es")
    assert en.subject != es.subject
    assert en.sms != es.sms


def test_dates_are_written_the_way_each_language_writes_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert "Friday 14 March 2025" in _render(settings, MessageKind.READY_FOR_PICKUP, "en").text
    assert (
        "viernes 14 de marzo de 2025" in _render(settings, MessageKind.READY_FOR_PICKUP, "es").text
    )


def test_the_door_number_is_left_out_when_the_bank_hides_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    shown = _render(settings, MessageKind.READY_FOR_PICKUP, "en")
    hidden = _render(settings, MessageKind.READY_FOR_PICKUP, "en", show_door_number=False)
    assert "Locker door: 4" in shown.text and "door 4" in shown.sms
    assert "Locker door" not in hidden.text and "door" not in hidden.sms


def test_the_html_escapes_titles_from_the_catalogue(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ctx = template_context(
        settings.notifications, settings.banks[0], {"titles": ["<script>x</script>"]}, None
    )
    msg = Templates(settings.notifications).render(MessageKind.PICKED_UP, "en", ctx)
    assert "<script>" not in msg.html and "&lt;script&gt;" in msg.html
    assert "<script>x</script>" in msg.text


def test_a_library_template_overrides_ours_file_by_file(tmp_path: Path) -> None:
    own = tmp_path / "own"
    (own / "en").mkdir(parents=True)
    (own / "en" / "ready_for_pickup.sms.j2").write_text("Locker {{ bank.name }}: {{ code }}")
    settings = _settings(tmp_path, templates_dir=str(own))
    msg = _render(settings, MessageKind.READY_FOR_PICKUP, "en")
    assert msg.sms == "Locker Main Library lobby: 482913"
    assert msg.subject == "Ready to collect at Main Library lobby"  # still ours


def test_a_broken_template_names_the_file_and_the_line(tmp_path: Path) -> None:
    own = tmp_path / "own"
    (own / "en").mkdir(parents=True)
    (own / "en" / "reminder.txt.j2").write_text("Hello\n{% if code %}\nno end")
    settings = _settings(tmp_path, templates_dir=str(own))
    with pytest.raises(TemplateProblem, match=r"en/reminder.txt.j2: line \d"):
        _render(settings, MessageKind.REMINDER, "en")


def test_a_misspelt_variable_fails_instead_of_printing_nothing(tmp_path: Path) -> None:
    own = tmp_path / "own"
    (own / "en").mkdir(parents=True)
    (own / "en" / "expired.subject.j2").write_text("Expired: {{ bank.nmae }}")
    settings = _settings(tmp_path, templates_dir=str(own))
    with pytest.raises(TemplateProblem, match="en/expired.subject.j2.*nmae"):
        _render(settings, MessageKind.EXPIRED, "en")


def test_the_patrons_language_wins_then_the_banks_then_the_default(tmp_path: Path) -> None:
    templates = Templates(_settings(tmp_path).notifications)
    kind = MessageKind.READY_FOR_PICKUP
    assert templates.choose_language(kind, ["es-ES", "en", "en"]) == "es"
    assert templates.choose_language(kind, ["fr", "es", "en"]) == "es"
    assert templates.choose_language(kind, [None, None, "en"]) == "en"
    assert language_candidates(["es_MX", None, "en"]) == ["es-MX", "es", "en"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("0044 (7700) 900-123", "+447700900123"),
        ("555.123.4567", "5551234567"),
    ],
)
def test_phone_numbers_are_normalised(raw: str, expected: str) -> None:
    assert addresses.phone_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "+1 555 CALL NOW", "1234567890123456"])
def test_unusable_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        addresses.phone_number(raw)


@given(st.text(min_size=1, max_size=40), st.sampled_from(["\r", "\n", " ", "\t", ","]))
def test_no_email_address_with_a_line_break_space_or_comma_is_accepted(
    local: str, bad: str
) -> None:
    with pytest.raises(InvalidAddress):
        addresses.email_address(f"a{local}{bad}x@example.org")
