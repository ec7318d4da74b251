"""The headless core never loads Textual (DESIGN.md: one direction of dependency)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_and_domain_import_no_textual():
    code = (
        "import sys, clinic_tui.api.client, clinic_tui.api.schemas, clinic_tui.domain.alerts, "
        "clinic_tui.domain.personnummer, clinic_tui.domain.codes, clinic_tui.domain.downsample, "
        "clinic_tui.domain.categories, clinic_tui.domain.fitness; "
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"textual loaded: {result.stdout} {result.stderr}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_does_no_io_and_server_never_imports_the_ui():
    io_modules = {"httpx", "sqlalchemy", "fastapi", "socket", "requests", "keyring", "textual"}
    for path in (ROOT / "clinic_tui" / "domain").glob("*.py"):
        top = {n.split(".")[0] for n in _imports(path)}
        assert not top & io_modules, f"{path.name} imports {top & io_modules}"
    for path in (ROOT / "clinic_server").rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(
                ("clinic_tui.views", "clinic_tui.widgets", "clinic_tui.app", "textual")
            ), f"{path} imports {name}"


def test_views_build_no_urls_or_sql():
    for path in (ROOT / "clinic_tui" / "views").glob("*.py"):
        top = {n.split(".")[0] for n in _imports(path)}
        assert not top & {"httpx", "sqlalchemy"}, f"{path.name} talks to the network or database directly"
        assert "/api/v1" not in path.read_text()
