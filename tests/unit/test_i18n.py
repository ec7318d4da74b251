"""The UI speaks through one translation function: every text it shows is in the catalogue, the
catalogues are in step with the code, and they ship compiled."""

from __future__ import annotations

import ast
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from clinic_tui import i18n
from tools import i18n as catalog_tool

ROOT = Path(__file__).resolve().parents[2]
#: the headless parts show no text of their own (the client's errors are worded in clinic_tui.errors)
NOT_UI = ("api", "domain", "i18n")
#: call -> the positional arguments that are shown to the user
SHOWN_ARGS = {
    "Static": (0,),
    "Label": (0,),
    "Button": (0,),
    "Option": (0,),
    "TabPane": (0,),
    "Text": (0,),
    "Cell": (0,),
    "Column": (0,),
    "notify": (0,),
    "update": (0,),
    "append": (0,),
    "show_error": (0,),
    "add_column": (0,),
    "add_columns": (0, 1, 2, 3, 4, 5, 6, 7),
    "FilterBox": (0,),
    "TextPrompt": (0, 1),
    "ConfirmPrompt": (0,),
    "ServerUnavailable": (0,),
    "Binding": (2,),
    "N_": (),
}
#: keyword arguments that are shown to the user, whatever the call
SHOWN_KEYWORDS = {"title", "placeholder", "tooltip", "description", "label", "prompt", "question"}


def _words(node: ast.AST) -> list[str]:
    """Literal text with letters in ``node`` that did not go through _, N_ or ngettext."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if any(c.isalpha() for c in node.value) else []
    if isinstance(node, ast.JoinedStr):
        return [v for part in node.values for v in _words(part)]
    if isinstance(node, ast.BinOp):
        return _words(node.left) + _words(node.right)
    if isinstance(node, ast.IfExp):
        return _words(node.body) + _words(node.orelse)
    return []


def _name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def untranslated(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            shown = [node.args[i] for i in SHOWN_ARGS.get(name, ()) if i < len(node.args)]
            shown += [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
            found += [f"{path.relative_to(root)}:{node.lineno}: {w!r}" for arg in shown for w in _words(arg)]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in ("title", "sub_title", "label"):
                    found += [f"{path.relative_to(root)}:{node.lineno}: {w!r}" for w in _words(node.value)]
    return found


def ui_modules() -> list[Path]:
    package = ROOT / "clinic_tui"
    return [
        p
        for p in package.rglob("*.py")
        if p.relative_to(package).parts[0] not in NOT_UI and p.name != "__main__.py"
    ]


def test_every_text_the_ui_shows_goes_through_the_translation_function():
    found = [problem for path in ui_modules() for problem in untranslated(path)]
    assert not found, "shown without _() / N_():\n" + "\n".join(found)


def test_the_check_sees_an_untranslated_text(tmp_path):
    """(So the check above can fail.)"""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from textual.binding import Binding\n"
        'B = Binding("a", "ack", "Acknowledge", tooltip=N_("fine"))\n'
        "def f(self, n):\n"
        '    self.notify(f"{n} alerts")\n'
        '    self.title = _("Alerts")\n'
        '    self.query_one("#x").update(_("ok") + " Really")\n'
    )
    found = untranslated(sample, tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == ["'Acknowledge'", "' alerts'", "' Really'"]


def test_the_catalogues_are_in_step_with_the_code():
    """clinic.pot holds every message the code marks (and no other); each .po holds the .pot's
    messages; each .mo is compiled from its .po. Fix: ``python -m tools.i18n``."""
    assert catalog_tool.problems() == []


def test_the_compiled_catalogues_ship_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["clinic_tui"]
    package = ROOT / "clinic_tui"
    for language in i18n.LANGUAGES:
        mo = catalog_tool.mo_path(language).relative_to(package).as_posix()
        assert any(fnmatch(mo, p) for p in patterns), mo


def test_a_translated_text_and_the_fallback():
    try:
        i18n.set_language("sv")
        assert i18n._("Log in") == "Logga in"
        assert i18n._("A text no catalogue has") == "A text no catalogue has"  # shown as written
        assert i18n._("") == ""  # (gettext would give the catalogue's header)
        i18n.set_language("en")
        assert i18n._("Log in") == "Log in"
    finally:
        i18n.set_language("en")


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="sv"):
        i18n.set_language("xx")


def untranslated_messages(language: str) -> list:
    """The messages of a language's catalogue with an empty translation (or an empty plural form)."""
    found = []
    for m in catalog_tool.read(catalog_tool.po_path(language), language):
        if not m.id:
            continue
        string = catalog_tool._key(m.string)
        if not string or (isinstance(string, tuple) and not all(string)):
            found.append(m.id)
    return found


def test_every_message_has_a_swedish_translation():
    """Swedish is chosen in full or not at all: no screen half in English. Fix: translate the
    message in sv/LC_MESSAGES/clinic.po, then ``python -m tools.i18n``."""
    missing = untranslated_messages("sv")
    assert not missing, "untranslated in sv/clinic.po:\n" + "\n".join(map(str, missing))


def test_the_swedish_check_sees_an_empty_translation(tmp_path, monkeypatch):
    """(So the check above can fail.)"""
    po = tmp_path / "sv" / "LC_MESSAGES" / "clinic.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Log in"\nmsgstr "Logga in"\n\nmsgid "Quit"\nmsgstr ""\n')
    monkeypatch.setattr(catalog_tool, "po_path", lambda language: po)
    assert untranslated_messages("sv") == ["Quit"]
