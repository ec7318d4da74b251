"""Numbers, dates and times as the UI's language writes them (babel's CLDR data).

Swedish: decimal comma, a space between thousands, 24-hour clock, ``2026-11-30`` dates, month
names in Swedish. English (British conventions, 24-hour clock as in the clinic): ``5,539.9``.
Timestamps stay ``yyyy-MM-dd HH:mm`` in both languages (unambiguous, and Swedish usage).

babel is imported on first use, not with the app (start-up stays light: docs/performance.md).
No Textual here.
"""

from __future__ import annotations

from datetime import date, datetime

from clinic_tui.i18n import language

#: the UI language -> the locale whose conventions it follows
LOCALES = {"en": "en_GB", "sv": "sv_SE"}


def locale() -> str:
    return LOCALES.get(language(), "en_GB")


def number(value: float | int, *, digits: int = 3) -> str:
    """``5539.9`` -> ``5 539,9`` (sv) or ``5,539.9`` (en); at most ``digits`` decimals, none when whole."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=locale())


def timestamp(value: datetime, *, with_date: bool = True) -> str:
    """A moment in the user's local zone: ``2026-11-30 14:05`` (or only ``14:05``)."""
    from babel.dates import format_datetime

    return format_datetime(value.astimezone(), "yyyy-MM-dd HH:mm" if with_date else "HH:mm", locale=locale())


def day_month(value: date | datetime, *, with_year: bool = False) -> str:
    """``30 nov.`` / ``30 Nov`` (and ``2025`` after it, ``with_year``): chart axes, short dates."""
    from babel.dates import format_date

    if isinstance(value, datetime):
        value = value.astimezone().date()
    return format_date(value, "d MMM yyyy" if with_year else "d MMM", locale=locale())


def month_year(value: date | datetime) -> str:
    """``nov. 2025`` / ``Nov 2025``: the one-year chart's axis."""
    from babel.dates import format_date

    if isinstance(value, datetime):
        value = value.astimezone().date()
    return format_date(value, "MMM yyyy", locale=locale())
