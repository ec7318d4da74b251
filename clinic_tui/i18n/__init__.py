"""The one translation function of the UI, ``_``, over gettext catalogues.

Source strings are English. The catalogues are ``locales/<language>/LC_MESSAGES/clinic.mo``,
compiled from the ``clinic.po`` beside them, which is kept in step with ``locales/clinic.pot``
(extracted from the code; README "Translations" has the commands). A string a catalogue lacks is
shown as written, in English.

- ``_(text)`` translates now. Texts with values use named fields and ``str.format`` after
  translation (``_("Alert {done}: {label}").format(...)``), never f-strings: an f-string is built
  before it could be looked up.
- ``N_(text)`` only marks a text for extraction. Texts defined when a module is imported (binding
  descriptions, column labels, tables of wordings) are marked so, and translated with ``_`` where
  they are shown: the language is chosen after the modules are imported.
- ``ngettext(singular, plural, n)`` for texts that depend on a count.

No Textual here: the headless parts (errors, settings) use it too.
"""

from __future__ import annotations

import gettext
from pathlib import Path

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "N_", "_", "language", "ngettext", "set_language"]

DOMAIN = "clinic"
LOCALE_DIR = Path(__file__).parent / "locales"
#: the languages the UI can be shown in; the first is the source language and the default
LANGUAGES = ("en", "sv")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = LANGUAGES[0]


def set_language(code: str) -> None:
    """Show the UI in ``code`` (one of ``LANGUAGES``) from now on."""
    global _translation, _language
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}: choose one of {', '.join(LANGUAGES)}")
    _translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[code], fallback=True)
    _language = code


def language() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the conventional name extraction tools know
    return message
