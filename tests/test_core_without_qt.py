"""netray-core never imports the viewer or Qt: plugins and headless machines depend on it alone."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "core" / "netray"
FORBIDDEN = ("netray_viewer", "PyQt6", "PyQt5", "PySide6", "pyqtgraph")
SAMPLE = REPO / "docs" / "sample" / "netray-sample.onnx"


def imported_modules(path: Path) -> list[str]:
    """Every module an import statement (at any depth) or an importlib call with a literal names."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
            names.extend(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return names


def test_no_core_source_imports_the_viewer_or_qt() -> None:
    sources = sorted(CORE.rglob("*.py"))
    assert len(sources) > 20
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sources
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


def test_info_and_export_work_where_qt_cannot_be_imported(tmp_path: Path) -> None:
    """In a process where importing Qt, pyqtgraph or the viewer fails, as on a machine without them."""
    code = f"""
import sys
for name in {FORBIDDEN!r}:
    sys.modules[name] = None  # import fails
from netray.cli import main
sys.argv = ["netray", *sys.argv[1:]]
main()
"""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("QT_QPA_PLATFORM", None)

    def netray(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, env=env)

    info = netray("info", "--json", str(SAMPLE))
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["format"].startswith("ONNX")
    for suffix in (".svg", ".json", ".netray"):
        result = netray("export", str(SAMPLE), "-o", str(tmp_path / f"sample{suffix}"))
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "sample.svg").read_text().lstrip().startswith("<?xml")
