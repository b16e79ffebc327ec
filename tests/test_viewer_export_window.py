"""Pictures of what the window shows (File › Export, Copy Image, a group's picture), and ``netray export``'s
expansion and View options."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication, QImage
from PyQt6.QtWidgets import QFileDialog, QMenu
from test_viewer_models import conv_net
from test_viewer_support import (
    capture_warnings,
    click,
    item_point,
    open_and_wait,
    settle,
    show_item,
    trigger,
    window_factory,
)

from netray.scene import ItemKind
from netray_viewer.colour_scale import BINS
from netray_viewer.export import picture_rect, png_scale
from netray_viewer.window import MainWindow

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Any:
    shown = capture_warnings(monkeypatch)
    yield shown
    assert shown == [], f"unexpected messages: {shown}"


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


@pytest.fixture
def save_as(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Answer the next Save dialog with a path; returns a setter."""
    answer: list[Path] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(answer[-1]), ""))
    return answer.append


def svg_texts(path: Path) -> list[str]:
    return [(t.text or "").strip() for t in ET.parse(path).getroot().iter(f"{SVG}text")]


def export(window: MainWindow, save_as: Any, path: Path, label: str) -> Path:
    save_as(path)
    trigger(window, "File", "Export", label)
    assert path.is_file()
    return path


def test_file_export_draws_what_the_window_shows(make_window: Any, save_as: Any, tmp_path: Path) -> None:
    window = make_window("none")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    collapsed = export(window, save_as, tmp_path / "collapsed.svg", "SVG drawing…")
    assert "BatchNormalization" not in svg_texts(collapsed)  # the blocks are collapsed on screen
    window.expand_all()
    settle(window)
    expanded = export(window, save_as, tmp_path / "expanded.svg", "SVG drawing…")
    assert svg_texts(expanded).count("BatchNormalization") == 3
    # PNG: the scene as on screen, in the window's theme and direction.
    window.change_view(theme="dark", direction="LR", show_names=True)
    settle(window)
    png = export(window, save_as, tmp_path / "dark-lr.png", "PNG image…")
    image = QImage(str(png))
    scene = window.scene
    assert scene is not None and scene.direction == "LR"
    rect = picture_rect(scene)
    assert abs(image.width() - rect.width() * png_scale(rect)) <= 1 and image.width() > 3 * image.height()
    assert image.pixelColor(2, 2).name() == window.theme.background.name() == "#1b1d21"
    named = export(window, save_as, tmp_path / "named.svg", "SVG drawing…")
    assert "/backbone/block0/conv/Conv" in svg_texts(named)  # Show Names, as on screen
    pdf = export(window, save_as, tmp_path / "graph.pdf", "PDF document…")
    assert pdf.read_bytes().startswith(b"%PDF")
    window.change_view(show_edge_shapes=False)
    bare = export(window, save_as, tmp_path / "bare.svg", "SVG drawing…")
    assert "batchx3x32x32" not in svg_texts(bare) and "batchx3x32x32" in svg_texts(named)


def test_copy_image_puts_the_picture_on_the_clipboard(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    clipboard = QGuiApplication.clipboard()
    assert clipboard is not None
    clipboard.clear()
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    image = clipboard.image()
    scene = window.scene
    assert scene is not None
    rect = picture_rect(scene)
    assert not image.isNull() and abs(image.height() - rect.height() * png_scale(rect)) <= 1


def test_export_this_group_from_the_right_click_menu(make_window: Any, qtbot: Any, save_as: Any, tmp_path: Path) -> None:
    window = make_window("1")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    s = window.scene
    assert s is not None
    i = next(k for k in range(s.size) if s.kind[k] == ItemKind.GROUP and s.ref[k].label == "block2")
    show_item(window, i)
    click(qtbot, window, item_point(window, i), button=Qt.MouseButton.RightButton)
    menu = next(m for m in window.findChildren(QMenu) if m.isVisible() and m.parent() is window)
    save_as(tmp_path / "block2.svg")
    next(a for a in menu.actions() if a.text() == "Export This Group…").trigger()
    menu.close()
    texts = svg_texts(tmp_path / "block2.svg")
    assert "block2" in texts and texts.count("Conv") == 1 and texts.count("BatchNormalization") == 1  # its ops, expanded
    assert "block1" not in texts and "logits" not in texts  # and nothing else
    assert window.level is not None and s.ref[i].id not in window.level.expanded  # the window's own view is unchanged


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netray.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_export_expands_and_collapses_named_groups(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "conv.onnx")
    out = tmp_path / "one.svg"
    done = run_cli("export", str(model), "-o", str(out), "--expand", "none", "--expand-group", "block1")
    assert done.returncode == 0, done.stderr
    texts = svg_texts(out)
    assert texts.count("BatchNormalization") == 1 and "backbone" in texts and "block0" in texts  # block1 open, its parents too
    done = run_cli("export", str(model), "-o", str(out), "--expand", "all", "--collapse-group", "backbone/block*")
    assert done.returncode == 0, done.stderr
    assert svg_texts(out).count("BatchNormalization") == 0 and svg_texts(out).count("block1") == 1
    done = run_cli("export", str(model), "-o", str(out), "--expand-group", "no-such-group")
    assert done.returncode == 2 and "no group matches 'no-such-group'" in done.stderr and "backbone/block0" in done.stderr


def test_cli_export_takes_the_view_settings(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "conv.onnx")
    out = tmp_path / "view.svg"
    args = ("--expand", "all", "--direction", "LR", "--names", "--hide-weights", "--hide-edge-shapes")
    done = run_cli("export", str(model), "-o", str(out), *args)
    assert done.returncode == 0, done.stderr
    texts = svg_texts(out)
    assert "/backbone/block0/conv/Conv" in texts and "W 16x3x3x3" not in texts and "batchx3x32x32" not in texts
    root = ET.parse(out).getroot()
    assert float(root.get("width", 0)) > 3 * float(root.get("height", 1))
    done = run_cli("export", str(model), "-o", str(out), "--expand", "all", "--hide-attributes")
    assert "3x3 pad 1" not in svg_texts(out) and "W 16x3x3x3" in svg_texts(out)


def test_file_export_paints_the_metric_the_window_is_coloured_by(make_window: Any, save_as: Any, tmp_path: Path) -> None:
    """With a metric chosen, File › Export draws the boxes in the overlay's colours, with its legend above the graph."""
    from test_viewer_overlay import ranked

    window = make_window("all")
    open_and_wait(window, conv_net(tmp_path / "conv.onnx"))
    plain = export(window, save_as, tmp_path / "plain.svg", "SVG drawing…")
    window.overlays.add_metrics([ranked(window)])
    window.overlays.choose("rank")
    settle(window)
    paint = window.overlays.paint
    assert paint is not None
    coloured = export(window, save_as, tmp_path / "coloured.svg", "SVG drawing…")
    texts = svg_texts(coloured)
    count = len(window.model.main.nodes)  # type: ignore[union-attr]
    assert "rank (u)" in texts and "1 u" in texts and f"{count} u" in texts and "rank (u)" not in svg_texts(plain)
    steps = [k for k in paint.key.tolist() if k < BINS]  # ramp steps (other keys are inputs' and outputs' usual colours)
    lowest, highest = (paint.header(k, window.theme).name() for k in (min(steps), max(steps)))
    svg = coloured.read_text()
    assert f'fill="{lowest}"' in svg and f'fill="{highest}"' in svg and f'fill="{highest}"' not in plain.read_text()
    png = export(window, save_as, tmp_path / "coloured.png", "PNG image…")
    scene = window.scene
    assert scene is not None
    rect = picture_rect(scene)  # the graph's own bounds: the legend adds rows above them
    assert QImage(str(png)).height() > rect.height() * png_scale(rect) + 40


def test_cli_export_colours_by_a_cost_or_by_a_runs_node_data(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = conv_net(tmp_path / "conv.onnx")
    out = tmp_path / "macs.svg"
    done = run_cli("export", str(model), "-o", str(out), "--expand", "all", "--metric", "macs", "--dim", "batch=2")
    assert done.returncode == 0, done.stderr
    texts = svg_texts(out)
    assert "MACs (MAC)" in texts and "log scale, sequential" in texts
    nodes = tmp_path / "run.json"
    done = run_cli("run", str(model), "--dim", "batch=1", "--node-data", str(nodes))
    assert done.returncode == 0, done.stderr
    done = run_cli("export", str(model), "-o", str(tmp_path / "run.png"), "--node-data", str(nodes), "--metric", "mean |x|")
    assert done.returncode == 0, done.stderr and (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG")
    done = run_cli("export", str(model), "-o", str(out), "--node-data", str(nodes), "--metric", "latency")
    assert done.returncode == 2 and "no metric named 'latency' in run.json" in done.stderr and "'mean |x|'" in done.stderr
