"""docs/plugins.md: its example is the real package docs/example_plugin, which installs and works."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "plugins.md"
EXAMPLE = REPO / "docs" / "example_plugin"
FILE_BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)```", re.S)
SLOW = os.environ.get("CI", "").lower() == "true" or os.environ.get("NETRAY_SLOW_TESTS") == "1"


def guide_files() -> dict[str, str]:
    return {m["path"]: m["body"] for m in FILE_BLOCK.finditer(GUIDE.read_text())}


def test_guide_shows_the_example_package_verbatim() -> None:
    shown = guide_files()
    assert set(shown) == {"netray_toyfmt/plugin.py", "pyproject.toml", "tests/test_toyfmt.py"}
    for path, body in shown.items():
        assert body == (EXAMPLE / path).read_text(), f"docs/plugins.md shows an outdated {path}"


def test_the_plugin_is_under_50_lines() -> None:
    code = [line for line in (EXAMPLE / "netray_toyfmt" / "plugin.py").read_text().splitlines() if line.strip()]
    assert len(code) < 50


def test_guide_names_every_hook_and_ir_class() -> None:
    text = GUIDE.read_text()
    for name in ("netray_formats", "netray_sniff", "netray_load", "netray_operator_info", "netray_load_object",
                 "Model", "Graph", "Node", "Port", "Value", "TensorType", "Tensor", "file_slice_loader", "Attribute",
                 "FormatError", '[project.entry-points."netray.plugins"]'):  # fmt: skip
        assert name in text, name


def toynet_file(folder: Path) -> tuple[Path, np.ndarray]:
    weights = np.random.default_rng(3).standard_normal((4, 3, 3, 3)).astype(np.float32)
    text = (
        "toynet 1\ninput image float32 1 3 8 8\nweight conv1.w float32 4 3 3 3\n"
        "conv1 = Conv(image, conv1.w) k=3\nrelu1 = Relu(conv1)\npool = MaxPool(relu1) k=2\noutput pool\ndata\n"
    )
    path = folder / "tiny.toynet"
    path.write_bytes(text.encode() + weights.astype("<f4").tobytes())
    return path, weights


def example_source(folder: Path) -> Path:
    """A copy of the example, so building it leaves no build/ or egg-info in the repository."""
    return Path(shutil.copytree(EXAMPLE, folder / "example_plugin", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")))


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example built as a wheel and installed (pip --target) into its own folder."""
    root = tmp_path_factory.mktemp("toyfmt")
    site = root / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(example_source(root))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return site


def with_site(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "QT_QPA_PLATFORM": "offscreen"}


def test_built_package_declares_its_entry_point(example_site: Path) -> None:
    (info,) = example_site.glob("netray_plugin_toyfmt-*.dist-info")
    assert "[netray.plugins]\ntoyfmt = netray_toyfmt.plugin" in (info / "entry_points.txt").read_text()


def test_example_tests_pass_with_the_package_installed(example_site: Path, tmp_path: Path) -> None:
    tests = example_source(tmp_path) / "tests"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tests), str(tests)],
        capture_output=True, text=True, timeout=300, env=with_site(example_site), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_cli_reads_a_toynet_file(example_site: Path, tmp_path: Path) -> None:
    path, _ = toynet_file(tmp_path)
    env = with_site(example_site)
    formats = subprocess.run([sys.executable, "-m", "netray.cli", "formats", "--json"], capture_output=True, text=True, timeout=120, env=env)
    rows = {r["plugin"]: r for r in json.loads(formats.stdout)}
    assert rows["toyfmt"]["distribution"] == "netray-plugin-toyfmt"
    assert [(f["name"], f["extensions"]) for f in rows["toyfmt"]["formats"]] == [("ToyNet", [".toynet"])]
    assert rows["toyfmt"]["contract"] == "1.0" and rows["toyfmt"]["problems"] == []
    info = subprocess.run([sys.executable, "-m", "netray.cli", "info", "--json", str(path)], capture_output=True, text=True, timeout=120, env=env)
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert summary["format"] == "ToyNet"
    assert summary["ops"] == {"Conv": 1, "Relu": 1, "MaxPool": 1}
    assert summary["parameters"] == 4 * 3 * 3 * 3
    bad = tmp_path / "bad.toynet"
    bad.write_text("toynet 1\nconv1 = Conv(image k=three\n")
    error = subprocess.run([sys.executable, "-m", "netray.cli", "info", str(bad)], capture_output=True, text=True, timeout=120, env=env)
    assert error.returncode == 2
    assert error.stderr.strip().splitlines()[-1].startswith(f"netray: error: {bad}: ToyNet: line 2:")


def test_viewer_snapshot_of_a_toynet_file(example_site: Path, tmp_path: Path) -> None:
    check = subprocess.run(
        [sys.executable, "-c", "import netray_viewer, sys; sys.exit(0 if hasattr(netray_viewer, 'snapshot') else 1)"],
        capture_output=True, text=True, timeout=120, env=with_site(example_site),
    )  # fmt: skip
    if check.returncode != 0:
        pytest.skip("the viewer (netray_viewer.snapshot) is not available yet")
    path, _ = toynet_file(tmp_path)
    png = tmp_path / "out.png"
    result = subprocess.run(
        [sys.executable, "-m", "netray.cli", "open", str(path), "--snapshot", str(png)],
        capture_output=True, text=True, timeout=300, env=with_site(example_site),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="builds a fresh venv from PyPI; set NETRAY_SLOW_TESTS=1 (always on under CI=true)")
def test_example_in_a_fresh_venv_beside_the_core(tmp_path: Path) -> None:
    """What a third party does: netray-core, the plugin from its own folder, nothing else: no Qt."""
    bin_dir = tmp_path / "venv" / "bin"
    venv.EnvBuilder(with_pip=True, clear=True).create(tmp_path / "venv")

    def pip(*args: str) -> None:
        result = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args], capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr

    core = shutil.copytree(REPO / "core", tmp_path / "core", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip(str(core))  # netray-core with its own dependencies, as pip install netray-core would
    pip(str(example_source(tmp_path)))  # with its declared dependencies, all satisfied now
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QT_QPA_PLATFORM")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, timeout=300, env=env)

    assert run("python", "-c", "import PyQt6").returncode != 0, "the core alone must not bring Qt"
    path, _ = toynet_file(tmp_path)
    info = run("netray", "info", "--json", str(path))
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert summary["format"] == "ToyNet" and summary["ops"] == {"Conv": 1, "Relu": 1, "MaxPool": 1}
    svg = tmp_path / "tiny.svg"
    assert run("netray", "export", str(path), "-o", str(svg)).returncode == 0
    assert {"Conv", "Relu", "MaxPool"} <= set(re.findall(r">([^<>]+)</text>", svg.read_text()))
    opened = run("netray", "open", str(path))
    assert opened.returncode == 2 and "pip install netray" in opened.stderr
