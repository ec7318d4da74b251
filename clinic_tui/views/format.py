"""Small formatting helpers shared by views: local times, withheld markers, safe text."""

from __future__ import annotations

from datetime import date, datetime

from rich.text import Text

NOT_SHARED = "not shared by the patient"


def local_time(value: datetime | None, with_date: bool = True) -> str:
    if value is None:
        return ""
    local = value.astimezone()  # the user's local zone
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def age_text(value: datetime, now: datetime) -> str:
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def withheld(text: str = NOT_SHARED) -> Text:
    return Text(text, style="italic dim")


def plain(value: object | None) -> Text:
    """Server data is rendered as Text, never parsed as markup."""
    if value is None:
        return Text("")
    if isinstance(value, date) and not isinstance(value, datetime):
        return Text(value.isoformat())
    return Text(str(value))


def personnummer_display(pnr: str | None) -> str | None:
    if not pnr:
        return None
    return f"{pnr[:8]}-{pnr[8:]}" if len(pnr) == 12 else pnr
