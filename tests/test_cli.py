"""The command line as a user meets it: `netray info`, `netray formats`, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

NETRAY = [sys.executable, "-m", "netray.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([*NETRAY, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small conv net written with onnx.helper: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "conv.bias"),
        numpy_helper.from_array(rng.standard_normal((10, 8)).astype(np.float32), "fc.weight"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="/features/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/features/relu/Relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="/pool/GlobalAveragePool"),
        helper.make_node("Flatten", ["p"], ["f"], name="/Flatten"),
        helper.make_node("Gemm", ["f", "fc.weight"], ["y"], name="/fc/Gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    model = helper.make_model(graph, producer_name="netray-tests", opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("cli") / "convnet.onnx"
    onnx.save(model, path)
    return path


def test_info_json_reports_what_the_issue_names(conv_model: Path) -> None:
    result = run("info", str(conv_model), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["format"].startswith("ONNX")
    assert info["producer"].startswith("netray-tests")
    main = info["graphs"][0]
    assert main["name"] == "convnet"
    assert main["nodes"] == 5
    assert main["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 3, 32, 32]}]
    assert main["outputs"][0]["shape"] == ["batch", 10]
    assert info["ops"] == {"Conv": 1, "Relu": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    assert info["parameters"] == 8 * 3 * 3 * 3 + 8 + 10 * 8


def test_info_text_is_readable(conv_model: Path) -> None:
    result = run("info", str(conv_model))
    assert result.returncode == 0, result.stderr
    for expected in ("ONNX", "convnet", "Conv", "Gemm", "batch", "parameters"):
        assert expected in result.stdout


def test_formats_lists_the_onnx_plugin_and_the_builtin_netray_file() -> None:
    result = run("formats", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_plugin = {row["plugin"]: row for row in rows}
    assert by_plugin["onnx"]["distribution"] == "netray-plugin-onnx"
    assert any(".onnx" in f["extensions"] for f in by_plugin["onnx"]["formats"])
    assert "Usage" not in run("formats").stdout


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.onnx", None, "no such file"),
        ("empty.onnx", b"", "empty"),
        ("garbage.onnx", bytes(range(256)) * 8, "ONNX"),
        ("notes.txt", b"hello, these are not weights\n", "no installed plugin recognises"),
    ],
)
def test_bad_files_exit_2_with_one_line_and_no_traceback(tmp_path: Path, name: str, content: bytes | None, expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run("info", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"netray: error: {path}")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_debug_flag_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x08\x07" + bytes(range(200)))
    result = run("--debug", "info", str(path))
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("netray: error:")


def test_user_file_is_never_modified(conv_model: Path) -> None:
    before = conv_model.read_bytes(), conv_model.stat().st_mtime_ns
    assert run("info", str(conv_model), "--json").returncode == 0
    assert (conv_model.read_bytes(), conv_model.stat().st_mtime_ns) == before


def test_snapshot_needs_a_file() -> None:
    result = run("open", "--snapshot", "x.png")
    assert result.returncode == 2
    assert "needs a FILE" in result.stderr


def test_the_cli_limits_numpy_blas_threads_before_numpy_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenBLAS's idle threads spin on the user's cores while netray starts; the CLI keeps one.

    That works only if importing netray.cli (and the netray package) loads no numpy.
    """
    probe = "import sys, netray.cli; print(sorted(m for m in ('numpy', 'netray.ir') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from netray import cli

    for preset, expected in ((None, "1"), ("4", "4")):  # a user's own setting stays
        if preset is None:
            monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset)
        monkeypatch.setattr(sys, "argv", ["netray", "formats", "--json"])
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        assert exit_info.value.code == 0
        assert os.environ["OPENBLAS_NUM_THREADS"] == expected


def test_package_names_resolve_on_first_use() -> None:
    import netray

    assert set(netray.__all__) == {*netray._HOMES, "__version__"}  # the lazy table and the public list agree
    assert set(netray.__all__) <= set(dir(netray))
    for name in netray.__all__:
        assert getattr(netray, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        netray.not_a_name  # noqa: B018


def test_a_multi_line_message_is_shown_as_its_first_line() -> None:
    from netray.cli import one_line

    assert one_line("\n  bad header\nTraceback (most recent call last):\n  File x\n") == "bad header"
    assert one_line("single") == "single"
