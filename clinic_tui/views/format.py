"""Small formatting helpers shared by views: local times, withheld markers, safe text."""

from __future__ import annotations

from datetime import date, datetime

from rich.text import Text

from clinic_tui.domain.personnummer import format_display
from clinic_tui.i18n import N_, _

NOT_SHARED = N_("not shared by the patient")


def local_time(value: datetime | None, with_date: bool = True) -> str:
    if value is None:
        return ""
    from clinic_tui.i18n.formats import timestamp

    return timestamp(value, with_date=with_date)  # the user's local zone, the language's conventions


def age_text(value: datetime, now: datetime) -> str:
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 3600:
        return _("{n} min").format(n=seconds // 60)
    if seconds < 86400:
        return _("{n} h").format(n=seconds // 3600)
    return _("{n} d").format(n=seconds // 86400)


def withheld(text: str | None = None) -> Text:
    """A withheld value: ``text`` (already worded) or "not shared by the patient"."""
    return Text(_(NOT_SHARED) if text is None else text, style="italic dim")


def plain(value: object | None) -> Text:
    """Server data is rendered as Text, never parsed as markup."""
    if value is None:
        return Text("")
    if isinstance(value, date) and not isinstance(value, datetime):
        return Text(value.isoformat())
    return Text(str(value))


def personnummer_display(pnr: str | None) -> str | None:
    """``YYYYMMDD-XXXX`` (the domain's format) for a 12-digit number; anything else as it came."""
    if not pnr:
        return None
    return format_display(pnr) if len(pnr) == 12 and pnr.isdigit() else pnr
