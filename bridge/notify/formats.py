"""Dates written the way each shipped language writes them (no locale database needed)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}


def parse(value: str | date | datetime | None, tz: str) -> date | datetime | None:
    """ISO text (as stored in facts) to a date, or a datetime in the bank's time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(ZoneInfo(tz))
    return value


def long_date(value: date | datetime | None, language: str) -> str:
    """ "Friday 14 March 2025" / "viernes 14 de marzo de 2025"; ISO for other languages."""
    if value is None:
        return ""
    lang = language.split("-")[0].lower()
    if lang == "en":
        month = _MONTHS["en"][value.month - 1]
        return f"{_DAYS['en'][value.weekday()]} {value.day} {month} {value.year}"
    if lang == "es":
        return (
            f"{_DAYS['es'][value.weekday()]} {value.day} de {_MONTHS['es'][value.month - 1]}"
            f" de {value.year}"
        )
    return value.strftime("%Y-%m-%d")


def time_of_day(value: date | datetime | None, language: str) -> str:
    """ "18:30" for datetimes; empty for plain dates (24-hour clock in both languages)."""
    if not isinstance(value, datetime):
        return ""
    return value.strftime("%H:%M")
