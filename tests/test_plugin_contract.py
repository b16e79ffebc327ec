"""The plugin contract: the core runs with no plugin, finds plugins through real entry
points, and survives plugins that raise or fail to import.

Test plugins are real distributions: a module and a ``<name>.dist-info`` folder with
METADATA and entry_points.txt written into a folder that goes on ``sys.path`` (in
process) or ``PYTHONPATH`` (for the CLI), where ``importlib.metadata`` finds them.

CLI runs use a core-only Python (``python -S`` with only the core and its
dependencies on the path), so plugins installed in the development venv, some of
them being written right now, cannot change what these tests see.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from importlib.util import find_spec
from pathlib import Path

import pytest

import netray
from netray.errors import NoReaderError, PluginError
from netray.plugins import PluginManager

REPO = Path(__file__).resolve().parent.parent
CORE_DEPENDENCIES = ("numpy", "pluggy", "click", "rich", "markdown_it", "mdurl", "pygments", "typing_extensions")


# ---------------------------------------------------------------------------------------
# Test plugins, installed as real distributions
# ---------------------------------------------------------------------------------------

GOOD_PLUGIN = '''
"""Reads the "ContractTest" format: a line CTEST1, then one operation per line."""
from pathlib import Path

import netray


@netray.hookimpl
def netray_formats():
    return [netray.FormatInfo("ContractTest", (".ctest",), "a format of the contract tests")]


@netray.hookimpl
def netray_sniff(path: Path, head: bytes):
    return netray.Claim("ContractTest", 1.0) if head.startswith(b"CTEST1\\n") else None


@netray.hookimpl
def netray_load(path: Path, format: str):
    if format != "ContractTest":
        return None
    graph = netray.Graph("main", "main")
    previous = graph.value("input", netray.TensorType("float32", ("batch", 4)))
    graph.inputs = [previous]
    for i, op in enumerate(path.read_text().splitlines()[1:]):
        out = graph.value(f"v{i}")
        graph.add_node(netray.Node(op, f"n{i}", inputs=[netray.Port("x", [previous])], outputs=[netray.Port("y", [out])]))
        previous = out
    graph.outputs = [previous]
    return netray.Model("ContractTest", [graph.link()])
'''

SNIFF_RAISES = '''
import netray


@netray.hookimpl
def netray_formats():
    return [netray.FormatInfo("Sniffy", (".sniffy",))]


@netray.hookimpl
def netray_sniff(path, head):
    raise RuntimeError("sniff exploded")


@netray.hookimpl
def netray_load(path, format):
    return None
'''

LOAD_RAISES = '''
import netray


@netray.hookimpl
def netray_formats():
    return [netray.FormatInfo("Exploding", (".boom",))]


@netray.hookimpl
def netray_sniff(path, head):
    return netray.Claim("Exploding", 1.0) if head.startswith(b"BOOM1\\n") else None


@netray.hookimpl
def netray_load(path, format):
    return 1 // 0
'''

IMPORT_FAILS = """
raise ImportError("this plugin needs libfoo 9")
"""

PLUGINS = {
    # entry-point name: (distribution, module, source)
    "contract": ("netray-plugin-contract", "netray_contract_good", GOOD_PLUGIN),
    "sniffy": ("netray-plugin-sniffy", "netray_contract_sniffy", SNIFF_RAISES),
    "exploding": ("netray-plugin-exploding", "netray_contract_exploding", LOAD_RAISES),
    "broken": ("netray-plugin-broken", "netray_contract_broken", IMPORT_FAILS),
}


def install_plugins(site: Path, *names: str) -> Path:
    """Write each named test plugin as a module plus a dist-info folder into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    for name in names:
        dist, module, source = PLUGINS[name]
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-0.3.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
        (info / "entry_points.txt").write_text(f"[netray.plugins]\n{name} = {module}\n")
        (info / "RECORD").write_text("")
    return site


def core_only_site(root: Path) -> Path:
    """A folder holding only the core and its dependencies (as links), for ``python -S``."""
    site = root / "core_only"
    site.mkdir()
    (site / "netray").symlink_to(REPO / "core" / "netray")
    for name in CORE_DEPENDENCIES:
        spec = find_spec(name)
        assert spec is not None and spec.origin is not None, name
        location = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations else Path(spec.origin)
        (site / location.name).symlink_to(location)
        libs = location.parent / f"{name}.libs"  # numpy's bundled shared libraries
        if libs.is_dir():
            (site / libs.name).symlink_to(libs)
    return site


def run_cli(tmp_path: Path, *args: str, plugins: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``netray ARGS`` in a core-only Python, with ``plugins`` (a folder of dist-infos) on the path."""
    core = tmp_path / "core_only"
    if not core.exists():
        core_only_site(tmp_path)
    path = [str(plugins)] if plugins else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(core)]), "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONSTARTUP", None)
    return subprocess.run(
        [sys.executable, "-S", "-m", "netray.cli", *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )


def sample_onnx(folder: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    path = folder / "sample.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def ctest_file(folder: Path) -> Path:
    path = folder / "tiny.ctest"
    path.write_text("CTEST1\nConv\nRelu\nMaxPool\n")
    return path


def one_error_line(result: subprocess.CompletedProcess[str], path: Path) -> str:
    """The CLI's single error line for ``path``; asserts exit 2 and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"netray: error: {path}: ")
    return lines[0]


# ---------------------------------------------------------------------------------------
# No plugin installed
# ---------------------------------------------------------------------------------------


def test_core_without_plugins_names_the_plugin_to_install(tmp_path: Path) -> None:
    path = sample_onnx(tmp_path)
    manager = PluginManager(load_entry_points=False)
    assert manager.formats() == []
    with pytest.raises(NoReaderError) as info:
        manager.load(path)
    assert "pip install netray-plugin-onnx" in str(info.value)
    assert info.value.hint == "pip install netray-plugin-onnx"
    assert "\n" not in str(info.value)


def test_cli_without_plugins_exits_2_with_one_line(tmp_path: Path) -> None:
    path = sample_onnx(tmp_path)
    line = one_error_line(run_cli(tmp_path, "info", str(path)), path)
    assert "netray-plugin-onnx" in line
    formats = run_cli(tmp_path, "formats", "--json")
    assert formats.returncode == 0, formats.stderr
    rows = json.loads(formats.stdout)
    assert [(r["plugin"], r["distribution"], [(f["name"], f["extensions"]) for f in r["formats"]]) for r in rows] == [
        ("netray-file", "netray-core", [("netray", [".netray"])])
    ]  # only the built-in .netray reader


def test_unknown_file_without_plugins_lists_what_is_installed(tmp_path: Path) -> None:
    path = tmp_path / "mystery.xyz"
    path.write_bytes(b"\x00\x01 not a model")
    line = one_error_line(run_cli(tmp_path, "info", str(path)), path)
    assert "no installed plugin recognises this file" in line and "netray" in line


# ---------------------------------------------------------------------------------------
# A plugin found through a real entry point
# ---------------------------------------------------------------------------------------


def test_entry_point_plugin_is_found_and_used_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_plugins(tmp_path / "site", "contract")
    monkeypatch.syspath_prepend(str(site))
    manager = PluginManager()
    record = manager.records["contract"]
    assert (record.distribution, record.version, record.error) == ("netray-plugin-contract", "0.3.1", "")
    assert [(f.name, f.extensions) for f in record.formats] == [("ContractTest", (".ctest",))]
    model = manager.load(ctest_file(tmp_path))
    assert model.format == "ContractTest"
    assert [n.op for n in model.main.nodes] == ["Conv", "Relu", "MaxPool"]
    assert model.main.nodes[1].inputs[0].values[0].producer is model.main.nodes[0]


def test_entry_point_plugin_is_found_by_the_cli(tmp_path: Path) -> None:
    site = install_plugins(tmp_path / "site", "contract")
    formats = run_cli(tmp_path, "formats", "--json", plugins=site)
    assert formats.returncode == 0, formats.stderr
    rows = {row["plugin"]: row for row in json.loads(formats.stdout)}
    assert rows["contract"]["distribution"] == "netray-plugin-contract"
    assert rows["contract"]["version"] == "0.3.1"
    assert [(f["name"], f["extensions"]) for f in rows["contract"]["formats"]] == [("ContractTest", [".ctest"])]
    info = run_cli(tmp_path, "info", "--json", str(ctest_file(tmp_path)), plugins=site)
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert summary["format"] == "ContractTest"
    assert summary["ops"] == {"Conv": 1, "Relu": 1, "MaxPool": 1}


# ---------------------------------------------------------------------------------------
# Plugins that misbehave
# ---------------------------------------------------------------------------------------


def test_a_plugin_whose_sniff_raises_is_named_and_others_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_plugins(tmp_path / "site", "contract", "sniffy")
    monkeypatch.syspath_prepend(str(site))
    manager = PluginManager()
    # Named like Sniffy's files, so Sniffy is asked first (declarations order the asking); its
    # content is ContractTest's, which that plugin proves after Sniffy's sniff has raised.
    misnamed = ctest_file(tmp_path).rename(tmp_path / "model.sniffy")
    model = manager.load(misnamed)
    assert model.format == "ContractTest"
    assert any("'sniffy'" in w and "netray_sniff" in w and "sniff exploded" in w for w in manager.warnings), manager.warnings
    result = run_cli(tmp_path, "info", "--json", str(misnamed), plugins=site)
    assert result.returncode == 0
    assert json.loads(result.stdout)["format"] == "ContractTest"
    assert "Traceback" not in result.stderr
    # The user hears of the failing plugin, by name, after the command's output.
    assert "netray: warning: plugin 'sniffy' failed in netray_sniff: RuntimeError: sniff exploded" in result.stderr


def test_a_plugin_whose_load_raises_gives_a_plugin_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_plugins(tmp_path / "site", "contract", "exploding")
    monkeypatch.syspath_prepend(str(site))
    boom = tmp_path / "bad.boom"
    boom.write_text("BOOM1\nanything\n")
    manager = PluginManager()
    with pytest.raises(PluginError) as info:
        manager.load(boom)
    assert info.value.plugin == "exploding"
    assert "'exploding'" in str(info.value) and "ZeroDivisionError" in str(info.value)
    assert manager.load(ctest_file(tmp_path)).format == "ContractTest"  # the others still work
    line = one_error_line(run_cli(tmp_path, "info", str(boom), plugins=site), boom)
    assert "plugin 'exploding' failed: ZeroDivisionError" in line


def test_a_plugin_that_fails_to_import_is_listed_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = install_plugins(tmp_path / "site", "contract", "broken")
    monkeypatch.syspath_prepend(str(site))
    manager = PluginManager()
    assert manager.records["broken"].error == "ImportError: this plugin needs libfoo 9"
    assert manager.records["broken"].distribution == "netray-plugin-broken"
    assert manager.load(ctest_file(tmp_path)).format == "ContractTest"

    rows = {r["plugin"]: r for r in json.loads(run_cli(tmp_path, "formats", "--json", plugins=site).stdout)}
    assert rows["broken"]["error"] == "ImportError: this plugin needs libfoo 9"
    assert rows["contract"]["error"] == ""
    text = run_cli(tmp_path, "formats", plugins=site)
    assert text.returncode == 0
    assert "broken" in text.stdout and "libfoo" in text.stdout + text.stderr
    assert "Traceback" not in text.stderr


# ---------------------------------------------------------------------------------------
# A fresh virtual environment: core only, then with the ONNX plugin
# ---------------------------------------------------------------------------------------

SLOW = os.environ.get("CI", "").lower() == "true" or os.environ.get("NETRAY_SLOW_TESTS") == "1"


def make_venv(folder: Path) -> Path:
    """A new venv with pip; returns its bin folder."""
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    return folder / "bin"


def pip(bin_dir: Path, *args: str) -> None:
    result = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="builds a fresh venv from PyPI; set NETRAY_SLOW_TESTS=1 (always on under CI=true)")
def test_fresh_venv_core_only_then_with_the_onnx_plugin(tmp_path: Path) -> None:
    """netray-core and netray-plugin-onnx alone, as pip installs them: no PyQt6, and info and export still work."""
    model = sample_onnx(tmp_path)
    bin_dir = make_venv(tmp_path / "venv")
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    pip(bin_dir, str(shutil.copytree(REPO / "core", tmp_path / "core", ignore=ignore)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QT_QPA_PLATFORM")}

    def netray_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bin_dir / "netray"), *args], capture_output=True, text=True, timeout=300, env=env)

    line = one_error_line(netray_cli("info", "--json", str(model)), model)
    assert "pip install netray-plugin-onnx" in line

    pip(bin_dir, str(shutil.copytree(REPO / "plugins" / "onnx", tmp_path / "onnx", ignore=ignore)))
    no_qt = subprocess.run([str(bin_dir / "python"), "-c", "import PyQt6"], capture_output=True, env=env)
    assert no_qt.returncode != 0, "netray-core and a plugin must not bring Qt"
    result = netray_cli("info", "--json", str(model))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"].startswith("ONNX")
    assert summary["ops"] == {"Relu": 1}
    for suffix in (".svg", ".json"):
        out = tmp_path / f"exported{suffix}"
        exported = netray_cli("export", str(model), "-o", str(out))
        assert exported.returncode == 0, exported.stderr
    assert ">Relu</text>" in (tmp_path / "exported.svg").read_text()
    assert json.loads((tmp_path / "exported.json").read_text())["graphs"][0]["nodes"][0]["id"]
    png = netray_cli("export", str(model), "-o", str(tmp_path / "x.png"))
    assert png.returncode == 2 and "PNG export needs the netray viewer" in png.stderr and "pip install netray" in png.stderr
    opened = netray_cli("open", str(model))
    assert opened.returncode == 2 and "pip install netray" in opened.stderr


def test_public_names_plugins_need() -> None:
    """What docs/plugins.md tells plugin authors to use is importable from ``netray``."""
    for name in ("hookimpl", "FormatInfo", "Claim", "OpInfo", "FormatError", "Model", "Graph", "Node", "Port", "Value", "TensorType", "Tensor", "Attribute", "AttrKind", "file_slice_loader"):
        assert hasattr(netray, name), name
