"""Text folding for search: case and Swedish (and other) diacritics do not decide a match.

``fold("Engström")`` is ``"engstrom"``, so a nurse typing on a keyboard without å, ä and ö, or
in a hurry, still finds the person. Letters that do not decompose in Unicode (ø, æ, ß, đ) are
mapped explicitly.
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold"]

_EXTRA = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "đ": "d", "ł": "l"})


def fold(text: str) -> str:
    """Lower case without diacritics: what search compares."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_EXTRA)
