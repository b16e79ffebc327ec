"""The properties panel: wrapping, weights before folded markdown docs, values, copying, tensor tables, fonts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication, QTextTable
from PyQt6.QtWidgets import QFileDialog
from test_viewer_models import conv_net
from test_viewer_support import (
    capture_warnings,
    click,
    item_point,
    node_named,
    open_and_wait,
    settle,
    show_item,
    window_factory,
)

from netray.hookspecs import OpInfo
from netray.ir import Tensor
from netray_viewer import inspector, tensor_table
from netray_viewer.fonts import missing_glyphs
from netray_viewer.tensor_table import TensorTableModel, TensorValuesDialog, save_npy

LONG_KEY = "producer.exporter.settings." + "k" * 120
LONG_VALUE = "v" * 700


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Any:
    shown = capture_warnings(monkeypatch)
    yield shown
    assert shown == [], f"unexpected messages: {shown}"


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


def with_metadata(path: Path, props: dict[str, str]) -> Path:
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def test_long_keys_and_values_wrap_inside_the_panel(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    width = window.panel.width()
    open_and_wait(window, with_metadata(conv_net(tmp_path / "conv.onnx"), {LONG_KEY: LONG_VALUE}))
    text = window.panel.text
    assert window.panel.width() == width  # nothing widened the dock
    assert text.document().idealWidth() <= text.viewport().width() + 1  # no line runs past the edge
    plain = window.panel.plain_text()
    assert LONG_KEY in plain and LONG_VALUE in plain  # whole, without invisible break marks
    assert "\u200b" not in plain


def test_weights_come_before_folded_markdown_documentation(make_window: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = "Convolves.\n\n| attribute | meaning |\n|---|---|\n| pads | padding per side |\n| strides | step per axis |\n\n* a list item\n"

    class Manager:
        def operator_info(self, fmt: str, domain: str, op: str) -> OpInfo:
            return OpInfo(summary="A convolution.", doc=doc)

    monkeypatch.setattr(inspector, "get_manager", lambda: Manager())
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    conv = node_named(window, "/backbone/block0/conv/Conv")
    i = window.scene.item_of(conv)  # type: ignore[union-attr]
    assert i is not None
    show_item(window, i)
    click(qtbot, window, item_point(window, i))
    panel = window.panel
    layout = panel._layout
    order = [layout.indexOf(w) for w in (panel.text, panel.weights_title, panel.docs_button, panel.docs)]
    assert order == sorted(order)  # text, weights, then the documentation
    qtbot.waitUntil(lambda: bool(panel.weight_views) and panel.weight_views[0].isVisible())
    assert panel.docs_button.isVisible() and not panel.docs.isVisible()  # folded
    qtbot.mouseClick(panel.docs_button, Qt.MouseButton.LeftButton)
    assert panel.docs.isVisible()
    frames = panel.docs.document().rootFrame().childFrames()  # type: ignore[union-attr]
    tables = [f for f in frames if isinstance(f, QTextTable)]
    assert len(tables) == 1 and (tables[0].rows(), tables[0].columns()) == (3, 2)  # rendered, not "|" text
    docs = panel.docs.toPlainText()
    assert "padding per side" in docs and "|" not in docs and "---" not in docs
    assert window.settings.value("panel/docs_open") in (True, "true")  # remembered for the next node
    window.select_ref("node", node_named(window, "/backbone/block1/conv/Conv"))
    assert panel.docs.isVisible()


def test_ctrl_c_copies_the_selected_name_without_hidden_characters(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    conv = node_named(window, "/backbone/block2/conv/Conv")
    i = window.scene.item_of(conv)  # type: ignore[union-attr]
    assert i is not None
    show_item(window, i)
    click(qtbot, window, item_point(window, i))
    clipboard = QGuiApplication.clipboard()
    assert clipboard is not None
    clipboard.setText("")
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == "/backbone/block2/conv/Conv"
    # Copying from the panel's text gives the text as shown: no zero-width spaces in long names.
    window.panel.text.selectAll()
    window.panel.text.copy()
    copied = clipboard.text()
    assert "/backbone/block2/conv/Conv_output_0" in copied and "\u200b" not in copied


def test_values_table_shows_any_tensor_and_saves_npy(make_window: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    conv = node_named(window, "/backbone/block1/conv/Conv")
    window.select_ref("node", conv)
    view = next(v for v in window.panel.weight_views if v.name == "backbone.block1.conv.weight")
    qtbot.mouseClick(view.table_button, Qt.MouseButton.LeftButton)
    dialog = view.values_dialog
    assert isinstance(dialog, TensorValuesDialog) and dialog.isVisible()
    values = view.tensor.numpy()
    model = dialog.model
    assert (model.rowCount(), model.columnCount()) == (16 * 16 * 3, 3)
    assert model.headerData(5, Qt.Orientation.Vertical) == "[0, 1, 2, :]"
    cell = model.index(5, 2)
    assert model.data(cell) == f"{float(values[0, 1, 2, 2]):.6g}"
    target = tmp_path / "weight.npy"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert np.array_equal(np.load(target), values)
    dialog.close()


class Watched(np.ndarray):
    """An array that records which rows of it are read (as a memory map reads pages)."""

    reads: ClassVar[list[tuple[int, int]]] = []

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            Watched.reads.append((key.start or 0, key.stop if key.stop is not None else len(self)))
        return super().__getitem__(key)


def test_large_tensors_are_paged_and_read_a_block_at_a_time(monkeypatch: pytest.MonkeyPatch, qapp: object, tmp_path: Path) -> None:
    monkeypatch.setattr(tensor_table, "PAGE_ROWS", 1000)
    data = np.arange(5000 * 8, dtype=np.float32).reshape(5000, 8)
    watched = data.view(Watched)
    Watched.reads = []
    model = TensorTableModel(watched)
    assert (model.pages, model.rowCount(), model.columnCount()) == (5, 1000, 8)
    assert model.data(model.index(10, 3)) == "83"
    model.set_page(4)
    assert model.rowCount() == 1000 and model.headerData(0, Qt.Orientation.Vertical) == "[4000, :]"
    assert model.data(model.index(999, 7)) == f"{float(data[4999, 7]):.6g}"
    assert Watched.reads and all(stop - start <= tensor_table.BLOCK_ROWS for start, stop in Watched.reads)  # never all rows
    # A vector wraps in rows of 16; saving writes chunk by chunk.
    vector = TensorTableModel(np.arange(40, dtype=np.int64))
    assert (vector.rowCount(), vector.columnCount()) == (3, 16) and vector.data(vector.index(2, 7)) == "39" and vector.data(vector.index(2, 8)) == ""
    monkeypatch.setattr(tensor_table, "SAVE_CHUNK_BYTES", 1024)
    steps: list[int] = []
    save_npy(data, tmp_path / "big.npy", progress=lambda done, total: steps.append(done) or True)
    assert np.array_equal(np.load(tmp_path / "big.npy"), data) and len(steps) > 10


def test_unreadable_and_string_tensors_in_the_table(qapp: object, tmp_path: Path) -> None:
    strings = Tensor("vocab", "string", (3,), loader=lambda: np.array(["a", "中文", "c"], dtype=object))
    dialog = TensorValuesDialog("vocab", strings)
    assert dialog.model.data(dialog.model.index(0, 1)) == "中文"
    written = dialog.save(tmp_path / "vocab.npy")
    assert written is not None and np.load(written).tolist() == ["a", "中文", "c"]


def test_cjk_metadata_and_names_are_drawn_not_boxes(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    from PyQt6.QtGui import QFontDatabase

    assert missing_glyphs("\U0010fffd") == 1  # a character no font has counts as a box: the check can fail
    if not QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese):
        pytest.skip("no font with Chinese characters installed (Debian: fonts-noto-cjk)")
    props = {"作者": "百度飞桨 PaddleOCR 团队", "描述": "中文文字识别模型", "言語": "日本語 / 한국어"}
    path = with_metadata(conv_net(tmp_path / "ocr.onnx"), props)
    model = onnx.load(str(path))
    model.graph.node[0].name = "骨干网络/卷积_0"
    onnx.save(model, str(path))
    window = make_window("all", show_names=True)
    open_and_wait(window, path)
    text = window.panel.plain_text()
    for key, value in props.items():
        assert key in text and value in text
        assert missing_glyphs(key + value, window.panel.text.font()) == 0
    node = node_named(window, "骨干网络/卷积_0")
    s = window.scene
    i = s.item_of(node)  # type: ignore[union-attr]
    assert i is not None and s.lines[i][0] == "骨干网络/卷积_0"  # type: ignore[union-attr]
    painter = window.canvas.scene_painter
    assert painter is not None and missing_glyphs(s.lines[i][0], painter.line_font) == 0  # type: ignore[union-attr]


def test_histograms_take_the_theme_when_it_changes(make_window: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    window.select_ref("node", node_named(window, "/backbone/block0/conv/Conv"))
    view = next(v for v in window.panel.weight_views if v.plot is not None)
    assert view.plot is not None
    light = view.plot.grab().toImage().pixelColor(2, 2)
    window.apply_theme("dark")
    settle(window)
    dark = view.plot.grab().toImage().pixelColor(2, 2)
    assert light.lightness() > 200 and dark.lightness() < 60
    assert dark.name() == window.theme.background.name()
