"""Bounded wire types: every integer, number, time and text a request can carry has limits, once.

Wire models (``schemas/*.py``) and the server's query and path parameters use these types instead
of bare ``str``, ``int``, ``float`` and ``datetime``, so every endpoint inherits the same limits and
a value outside them is a clear 422 before any service or database sees it:

- text never holds NUL (PostgreSQL cannot store it) nor, except tab and line breaks in free text,
  other control characters, and has a maximum length;
- integers fit the database column they end in (32-bit ids, 64-bit sequence numbers);
- numbers are finite and of a plausible magnitude (a 400-digit number is refused, not overflowed);
- times carry a UTC offset and lie within the years 1900 to 2200, both as written and in UTC, so
  converting them can never overflow (``0001-01-01T00:00:00+01:00`` is year 0 in UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

#: the years a time on the wire may lie in (as written and in UTC)
MIN_YEAR, MAX_YEAR = 1900, 2200
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: the largest magnitude a measured or configured number may have
NUMBER_MAX = 1e9

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _free_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (other than tab and line breaks)")
    return value


def _line(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _LINE_CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _in_years(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    if value.tzinfo is None or value.utcoffset() is None:
        return value
    # the local year is bounded, so the conversion cannot overflow; the UTC year must fit too
    if not MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR:
        raise ValueError(f"must lie between the years {MIN_YEAR} and {MAX_YEAR} in UTC")
    return value


def _finite_number(value: object) -> object:
    # a JSON integer of hundreds of digits would overflow float(): refuse it by its size first
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > NUMBER_MAX:
        raise ValueError(f"must lie between {-NUMBER_MAX:g} and {NUMBER_MAX:g}")
    return value


def text(max_length: int, min_length: int = 0) -> object:
    """Free text (notes, reasons): tab and line breaks allowed, no other control character."""
    return Annotated[
        str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_free_text)
    ]


def line(max_length: int, min_length: int = 0) -> object:
    """One line (names, codes, ids, tokens): no control character at all."""
    return Annotated[
        str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_line)
    ]


#: a note or reason of a person (up to 4000 characters)
Note = text(4000)
#: a short single-line value: a name, a code, a search term (up to 200 characters)
Line = line(200)
#: an id of a row as the server gives it out (32 hex characters; longer ones are refused later)
Id = line(64, min_length=1)
#: a positive 32-bit id (alerts) and a positive 64-bit sequence number (audit records)
Int32Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
Seq = Annotated[int, Field(ge=1, le=INT64_MAX)]
#: a count in a request (a version, a limit): non-negative and 32-bit
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
#: a finite number of plausible magnitude (a measurement, a threshold); JSON numbers only, no booleans
Number = Annotated[
    float,
    BeforeValidator(_finite_number),
    Field(strict=True, allow_inf_nan=False, ge=-NUMBER_MAX, le=NUMBER_MAX),
]
#: a time with a UTC offset, within the years 1900 to 2200
Instant = Annotated[AwareDatetime, AfterValidator(_in_years)]
#: a time within the years 1900 to 2200 whose missing offset the service reports with its own hint
Time = Annotated[datetime, AfterValidator(_in_years)]
