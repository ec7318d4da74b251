"""clinic_tui.domain is the pure layer: standard library only, and the coach's modules load no UI."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "clinic_tui" / "domain"


def test_domain_imports_only_the_standard_library_and_itself():
    for path in DOMAIN.glob("*.py"):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
        foreign = {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names}
        outside = {m for m in foreign if m != "clinic_tui.domain" and not m.startswith("clinic_tui.domain.")}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_coach_modules_load_without_textual():
    code = (
        "import sys, clinic_tui.domain.fitness, clinic_tui.domain.classification, "
        "clinic_tui.domain.questionnaire, clinic_tui.domain.profiling, clinic_tui.domain.provenance; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'httpx', 'pydantic'}); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"loaded: {result.stdout} {result.stderr}"
