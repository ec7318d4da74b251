"""Keep the UI's translation catalogues in step with the code (needs babel: ``pip install -e '.[test]'``).

    python -m tools.i18n            # extract -> clinic.pot, update each clinic.po, compile each clinic.mo
    python -m tools.i18n --check    # only say whether they are in step (what the tests check)

Layout (``clinic_tui/i18n/locales``): ``clinic.pot`` (every message the code marks, English, no
source locations so it changes only when a message does), and per language
``<lang>/LC_MESSAGES/clinic.po`` (the translations) and ``clinic.mo`` (compiled from it, committed,
shipped in the wheel). Translators edit the .po files only, then run this.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from clinic_tui.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "babel.cfg"
#: the default keywords, and the domain's personnummer errors (shown in the break-the-glass dialog)
KEYWORDS = {**DEFAULT_KEYWORDS, "PersonnummerError": None}
POT = LOCALE_DIR / f"{DOMAIN}.pot"
PROJECT = "clinic-tui"


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


def extract() -> Catalog:
    """Every message the code marks now."""
    with MAPPING.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    catalog = Catalog(project=PROJECT, domain=DOMAIN, charset="utf-8")
    for _filename, _lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        catalog.add(message, None, [], auto_comments=comments, context=context)
    return catalog


def _po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, no_location=True, omit_header=False, sort_output=True, width=100)
    return out.getvalue()


def read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=language, domain=DOMAIN)


def updated(language: str, template: Catalog) -> Catalog:
    """The language's catalogue with the template's messages: new ones empty, gone ones dropped."""
    path = po_path(language)
    catalog = (
        read(path, language) if path.exists() else Catalog(locale=language, domain=DOMAIN, project=PROJECT)
    )
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    return catalog


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _key(value):
    """A message id or string as one hashable value (plural forms come as lists or tuples)."""
    return tuple(value) if isinstance(value, list | tuple) else value


def translations(catalog: Catalog) -> dict:
    """msgid -> msgstr of the messages a catalogue really translates (not fuzzy, not empty, not the
    source text itself: the compiler stores an untranslated plural that way)."""
    out = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        string = _key(m.string)
        if string and string != _key(m.id) and (not isinstance(string, tuple) or all(string)):
            out[_key(m.id)] = string
    return out


def mo_translations(language: str) -> dict:
    with mo_path(language).open("rb") as fh:
        return translations(read_mo(fh))


def _messages(catalog: Catalog) -> list:
    """What a catalogue says, without its header (whose dates change on every run)."""
    return sorted((str(_key(m.id)), str(_key(m.string)), sorted(m.flags)) for m in catalog if m.id)


def write_all() -> None:
    """Rewrite only what changed, so an unchanged catalogue keeps its file (and its dates)."""
    template = extract()
    if not POT.exists() or _messages(read(POT)) != _messages(template):
        POT.write_bytes(_po_bytes(template))
    for language in LANGUAGES:
        catalog = updated(language, template)
        po = po_path(language)
        po.parent.mkdir(parents=True, exist_ok=True)
        if not po.exists() or _messages(read(po, language)) != _messages(catalog):
            po.write_bytes(_po_bytes(catalog))
        if not mo_path(language).exists() or mo_translations(language) != translations(catalog):
            mo_path(language).write_bytes(compiled(catalog))


def problems() -> list[str]:
    """What is out of step: the .pot against the code, each .po against the .pot, each .mo against its .po."""
    found = []
    code = {_key(m.id) for m in extract() if m.id}
    pot = {_key(m.id) for m in read(POT) if m.id}
    found += [f"in the code, not in clinic.pot: {m!r}" for m in sorted(code - pot, key=str)]
    found += [f"in clinic.pot, no longer in the code: {m!r}" for m in sorted(pot - code, key=str)]
    for language in LANGUAGES:
        po = read(po_path(language), language)
        ids = {_key(m.id) for m in po if m.id}
        found += [f"{language}: not in clinic.po: {m!r}" for m in sorted(pot - ids, key=str)]
        found += [f"{language}: in clinic.po, not in clinic.pot: {m!r}" for m in sorted(ids - pot, key=str)]
        if mo_translations(language) != translations(po):
            found.append(f"{language}: clinic.mo is not compiled from clinic.po")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is out of step")
    args = parser.parse_args(argv)
    if not args.check:
        write_all()
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
