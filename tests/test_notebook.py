"""netray.show in a notebook: an inline picture in a real (headless) Jupyter kernel, and the pop-out window."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, ClassVar

import pytest

import netray
from netray import notebook

REPO = Path(__file__).resolve().parent.parent
API_DOC = REPO / "docs" / "api.md"
SAMPLE = REPO / "docs" / "sample" / "netray-sample.onnx"
SVG_NS = "{http://www.w3.org/2000/svg}"


def notebook_block() -> str:
    """docs/api.md's ```python notebook block (the one the docs say runs in a notebook)."""
    found = re.findall(r"^```python notebook[ \t]*\n(.*?)^```[ \t]*$", API_DOC.read_text(), re.M | re.S)
    assert len(found) == 1
    return str(found[0])


def svg_texts(svg: str) -> set[str]:
    return {(t.text or "").strip() for t in ET.fromstring(svg).iter(f"{SVG_NS}text")}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A notebook run headlessly by nbclient in a fresh kernel with no display and no Qt platform set."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    folder = tmp_path_factory.mktemp("notebook")
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    cells = [
        notebook_block(),
        # An in-memory model, shown from the middle of a cell through display().
        "import onnx\nproto = onnx.load('netray-sample.onnx', load_external_data=False)\ndisplay(netray.show(proto, direction='LR'))\nprint('after')",
        "import os\nprint('platform', os.environ.get('QT_QPA_PLATFORM'))",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
            mp.delenv(name, raising=False)  # the kernel inherits this environment
        client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
        client.execute()
    return nb


def rich_outputs(cell: Any) -> list[dict[str, Any]]:
    return [dict(o["data"]) for o in cell.outputs if o.output_type in ("execute_result", "display_data")]


def test_show_renders_an_inline_picture_in_a_headless_kernel(executed: Any) -> None:
    (data,) = rich_outputs(executed.cells[0])
    assert "image/svg+xml" in data or "image/png" in data
    texts = svg_texts(data["image/svg+xml"])
    model = netray.load_model(SAMPLE)
    assert {"image", "probabilities"} <= texts  # the graph's input and output
    assert "Conv" in texts
    assert len(texts) > len({n.op for n in model.main.nodes}) // 2
    assert ".window()" in data["text/html"] and "<img" in data["text/html"]
    assert "ModelView" in data["text/plain"]


def test_in_memory_models_show_through_display(executed: Any) -> None:
    cell = executed.cells[1]
    (data,) = rich_outputs(cell)
    root = ET.fromstring(data["image/svg+xml"])
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width > height  # direction="LR" reached the picture
    assert any("after" in o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_the_kernel_chose_the_offscreen_platform_itself(executed: Any) -> None:
    (stream,) = [o for o in executed.cells[2].outputs if o.output_type == "stream"]
    assert stream["text"].strip() == "platform offscreen"


# ---------------------------------------------------------------------------------------
# ModelView without a kernel
# ---------------------------------------------------------------------------------------


def test_not_a_notebook_here() -> None:
    assert notebook.in_notebook() is False


def test_large_pictures_go_inline_as_png(monkeypatch: pytest.MonkeyPatch) -> None:
    view = notebook.ModelView(netray.load_model(SAMPLE))
    monkeypatch.setattr(notebook, "MAX_INLINE_SVG", 1000)
    bundle = view._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert bundle["image/png"] in bundle["text/html"]


def test_bad_options_fail_when_shown_not_when_drawn() -> None:
    model = netray.load_model(SAMPLE)
    with pytest.raises(ValueError, match="theme"):
        notebook.ModelView(model, theme="sepia")
    with pytest.raises(ValueError, match="no graph named"):
        notebook.ModelView(model, graph="missing")


class FakePopen:
    """Records the command a pop-out window would run."""

    commands: ClassVar[list[list[str]]] = []
    environments: ClassVar[list[dict[str, str]]] = []

    def __init__(self, command: list[str], **kwargs: Any) -> None:
        FakePopen.commands.append(command)
        FakePopen.environments.append(kwargs.get("env") or {})


def test_window_opens_the_viewer_in_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    model = netray.load_model(SAMPLE)
    notebook.ModelView(model, notebook.source_file(SAMPLE, model), expand=2).window()
    command = FakePopen.commands[-1]
    assert command[1:] == ["-m", "netray.cli", "open", str(SAMPLE), "--expand", "2"]
    # An in-memory model is saved to a temporary .netray the viewer opens.
    model.source = None
    view = notebook.ModelView(model)
    view.window()
    saved = Path(FakePopen.commands[-1][4])
    assert saved.suffix == ".netray"
    assert [n.op for n in netray.load_model(saved).main.nodes] == [n.op for n in model.main.nodes]
    view.window()
    assert FakePopen.commands[-1][4] == str(saved)  # saved once


def test_window_without_a_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(notebook.sys, "platform", "linux")
    view = notebook.ModelView(netray.load_model(SAMPLE))
    with pytest.raises(RuntimeError, match="no display"):
        view.window()


def test_pictures_are_drawn_offscreen_but_the_window_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(notebook, "_platform_chosen_here", False)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    view = notebook.ModelView(netray.load_model(SAMPLE), SAMPLE)
    assert view.png().startswith(b"\x89PNG")
    assert notebook.os.environ["QT_QPA_PLATFORM"] == "offscreen"  # chosen for the picture
    view.window()
    assert "QT_QPA_PLATFORM" not in FakePopen.environments[-1]  # the viewer process gets the real display
    assert FakePopen.environments[-1]["DISPLAY"] == ":99"
