"""Jinja filters for the staff pages: durations, times in the bank's zone, state names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

STATE_LABELS = {
    "free": "Free",
    "reserved": "Reserved",
    "loaded": "Waiting",
    "picked_up": "Picked up",
    "expired": "Expired",
    "staff_remove": "Remove",
    "return_free": "Return: empty",
    "return_occupied": "Return: has items",
    "emptied_by_staff": "Emptied",
    "out_of_service": "Out of service",
}


def duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


DATE_FORMAT = "%d %b %Y %H:%M"


def when(value: datetime | None, zone: str | None = None) -> str:
    """A full date and time in the bank's zone (else the site's ``web.timezone``), written in
    the site's ``web.date_format``."""
    if value is None:
        return ""
    fmt, site_zone = DATE_FORMAT, "UTC"
    rt = current_app.extensions.get("lockerbridge") if has_app_context() else None
    if rt is not None:
        fmt, site_zone = rt.settings.web.date_format, rt.settings.web.timezone
    try:
        tz = ZoneInfo(zone or site_zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    return value.astimezone(tz).strftime(fmt)


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state.replace("_", " "))
