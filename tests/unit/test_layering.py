"""The headless core never loads Textual (DESIGN.md: one direction of dependency).

The import rules themselves are import-linter contracts in pyproject.toml (``lint-imports``, run
by .ci/run); this checks what they cannot see: what importing the core really loads, and that no
view spells out a URL.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_and_domain_import_no_textual():
    code = (
        "import sys, pkgutil, importlib, clinic_tui.api, clinic_tui.domain; "
        "mods = ['clinic_tui.api.client', 'clinic_tui.api.schemas'] + "
        "[m.name for m in pkgutil.iter_modules(clinic_tui.domain.__path__, 'clinic_tui.domain.')]; "
        "[importlib.import_module(m) for m in mods]; "
        "ui = ('textual', 'textual_plotext', 'plotext'); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ui); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"textual loaded: {result.stdout} {result.stderr}"


def test_views_build_no_urls():
    for path in [
        *(ROOT / "clinic_tui" / "views").rglob("*.py"),
        *(ROOT / "clinic_tui" / "widgets").rglob("*.py"),
    ]:
        assert "/api/v1" not in path.read_text(), path
