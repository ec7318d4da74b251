"""The terminal app never loads the server package: it starts the embedded backend as a process
(``python -m clinic_server``) and learns what it needs (its port, its database) from its output."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_loads_no_server_module():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "clinic_tui").rglob("*.py")
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'clinic_server' or m.startswith('clinic_server.'))\n"
        "print(','.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"clinic_server loaded: {result.stdout} {result.stderr}"
    assert "clinic_tui.app" in modules and "clinic_tui.views.patient" in modules
