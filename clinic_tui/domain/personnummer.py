"""Swedish personal identity numbers (personnummer) and coordination numbers.

Pure functions only.  The canonical stored form is 12 digits, ``YYYYMMDDXXXX``.

Error messages deliberately never echo the number itself, because a
personnummer is personal data and exception messages tend to end up in logs.

Century rule for the 10-digit forms (Skatteverket): the separator is ``-``
until the calendar year in which the person turns 100, from then on ``+``.
So ``YYMMDD-XXXX`` resolves to the latest year ending in ``YY`` that is not
after the current year, and ``+`` moves that a further 100 years back.  A
10-digit form without a separator is treated like ``-``.
"""

from __future__ import annotations

import random
from datetime import date

__all__ = [
    "PersonnummerError",
    "age_on",
    "age_years",
    "birth_date",
    "format_display",
    "generate",
    "is_samordningsnummer",
    "is_valid",
    "luhn_check_digit",
    "normalize",
    "sex",
]

SAMORDNING_DAY_OFFSET = 60


class PersonnummerError(ValueError):
    """A string is not a valid personnummer or samordningsnummer."""


def luhn_check_digit(nine_digits: str) -> int:
    """Return the Luhn check digit for the 9 digits ``YYMMDDNNN``."""
    if len(nine_digits) != 9 or not nine_digits.isascii() or not nine_digits.isdigit():
        raise PersonnummerError("Luhn input must be exactly 9 digits")
    total = 0
    for i, ch in enumerate(nine_digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def _real_date(year: int, month: int, day: int) -> date:
    """Return the birth date, accepting samordningsnummer days (day + 60)."""
    if day > SAMORDNING_DAY_OFFSET:
        day -= SAMORDNING_DAY_OFFSET
    try:
        return date(year, month, day)
    except ValueError:
        raise PersonnummerError("birth date part is not a valid date") from None


def normalize(value: str, *, today: date | None = None) -> str:
    """Validate a personnummer in any common form and return ``YYYYMMDDXXXX``.

    Accepted: ``YYYYMMDD-XXXX``, ``YYYYMMDDXXXX``, ``YYMMDD-XXXX``,
    ``YYMMDD+XXXX`` (100 years or older) and ``YYMMDDXXXX``.  ``today`` is
    only used to resolve the century of the 10-digit forms.
    """
    if not isinstance(value, str):
        raise PersonnummerError("personnummer must be given as text")
    s = value.strip()
    sep = ""
    if len(s) >= 5 and s[-5] in "-+":
        sep = s[-5]
        s = s[:-5] + s[-4:]
    if s and (not s.isascii() or not s.isdigit()):
        raise PersonnummerError("personnummer may only contain digits and a '-' or '+' before the last four")
    if len(s) == 12:
        if sep == "+":
            raise PersonnummerError("'+' is only used with the 10-digit form YYMMDD+XXXX")
        year = int(s[:4])
        ten = s[2:]
    elif len(s) == 10:
        ten = s
        ref = (today or date.today()).year
        if sep == "+":
            ref -= 100
        yy = int(s[:2])
        year = ref - ((ref - yy) % 100)
    else:
        raise PersonnummerError("wrong length: expected YYYYMMDD-XXXX or YYMMDD-XXXX (10 or 12 digits)")
    if year < 1:
        raise PersonnummerError("birth date part is not a valid date")
    _real_date(year, int(ten[2:4]), int(ten[4:6]))
    if luhn_check_digit(ten[:9]) != int(ten[9]):
        raise PersonnummerError("check digit does not match (possible typing error)")
    return f"{year:04d}{ten[2:]}"


def is_valid(value: str, *, today: date | None = None) -> bool:
    """True if ``value`` is a valid personnummer/samordningsnummer in any accepted form."""
    try:
        normalize(value, today=today)
    except PersonnummerError:
        return False
    return True


def _require12(pnr12: str) -> str:
    if not isinstance(pnr12, str) or len(pnr12) != 12 or not pnr12.isascii() or not pnr12.isdigit():
        raise PersonnummerError("expected a normalized 12-digit personnummer")
    return pnr12


def birth_date(pnr12: str) -> date:
    """Birth date of a normalized number (samordningsnummer day offset removed)."""
    s = _require12(pnr12)
    return _real_date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def is_samordningsnummer(pnr12: str) -> bool:
    """True for coordination numbers, whose day of month is increased by 60."""
    return int(_require12(pnr12)[6:8]) > SAMORDNING_DAY_OFFSET


def sex(pnr12: str) -> str:
    """Legal sex from the second-to-last digit: ``"female"`` if even, else ``"male"``."""
    return "female" if int(_require12(pnr12)[10]) % 2 == 0 else "male"


def format_display(pnr12: str) -> str:
    """``YYYYMMDD-XXXX`` for display."""
    s = _require12(pnr12)
    return f"{s[:8]}-{s[8:]}"


def age_years(birth: date, on: date) -> int:
    """Age in whole years on ``on`` of someone born on ``birth`` (29 February: a year older on 1 March)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_on(pnr12: str, on: date) -> int:
    """Age in whole years on the given date."""
    return age_years(birth_date(pnr12), on)


def generate(rng: random.Random, birth: date, sex: str, *, samordningsnummer: bool = False) -> str:
    """Generate a valid 12-digit number for ``birth`` and ``sex`` ("female"/"male").

    Deterministic for a seeded ``rng``; intended for demo and test data.
    """
    if sex not in ("female", "male"):
        raise ValueError("sex must be 'female' or 'male'")
    day = birth.day + (SAMORDNING_DAY_OFFSET if samordningsnummer else 0)
    serial = f"{rng.randrange(100):02d}"
    sex_digit = rng.randrange(0, 10, 2) + (1 if sex == "male" else 0)
    nine = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{serial}{sex_digit}"
    return f"{birth.year:04d}{nine[2:]}{luhn_check_digit(nine)}"
