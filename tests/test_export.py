"""netray.export and `netray export`: pictures of real models with no display, JSON and .netray outputs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_netrayfile import assert_same

import netray
from conftest import SHARED_MODELS
from netray import netrayfile
from netray.exporter import ExportError, expand_mode, export_format, pick_graph
from netray.scene import ItemKind, Scene

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "docs" / "sample" / "netray-sample.onnx"
SVG_NS = "{http://www.w3.org/2000/svg}"
# One real file per family that has a plugin here (other people's files; see MANIFEST.tsv).
REAL_FILES = {
    "keras": "keras/keras3/fashion_mnist_cnn.keras",
    "tflite": "tflite/tf2onnx/regression.tflite",
    "tensorflow": "tensorflow/frozen/tf2onnx/lstm_frozen.pb",
}


def headless_env() -> dict[str, str]:
    """The environment of a user on a server: no display and no Qt platform chosen."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return env


EXPORT_SCRIPT = """
import json, os, sys
import netray
jobs = json.loads(sys.argv[1])
for source, out, options in jobs:
    netray.export(source, out, **options)
print(json.dumps({"QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM")}))
"""


def export_headless(jobs: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """Run ``netray.export`` for each job in a fresh process with no display; returns what it reports."""
    result = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, json.dumps(jobs)],
        env=headless_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def scene_of(path: Path, expand: str = "auto", direction: str = "TB") -> Scene:
    from netray_viewer.export import build_scene

    return build_scene(netray.load_model(path).main, expand, direction)


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == f"{SVG_NS}svg"
    return [(t.text or "").strip() for t in root.iter(f"{SVG_NS}text")]


def assert_shown_as_text(wanted: list[str], texts: list[str], what: str) -> None:
    """Each of ``wanted`` is an SVG <text> (one too wide for its box may be cut short, ending in '…')."""
    shown = set(texts)
    elided = [t[:-1] for t in texts if t.endswith("…")]
    for text in wanted:
        assert text in shown or any(text.startswith(e) for e in elided), f"{what} {text!r} is not a <text> in the SVG"


def assert_titles_are_text(scene: Scene, texts: list[str]) -> None:
    """Every visible box's title (frames aside) is an SVG <text>."""
    titles = [scene.title[i] for i in range(scene.size) if scene.kind[i] != ItemKind.FRAME]
    assert titles
    assert_shown_as_text(titles, texts, "title")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_colours(data: bytes) -> int:
    """How many distinct colours a sample of the decoded PNG holds (a blank picture has one)."""
    from PyQt6.QtGui import QImage

    image = QImage.fromData(data, "PNG")
    assert not image.isNull()
    step_x, step_y = max(1, image.width() // 200), max(1, image.height() // 200)
    return len({image.pixel(x, y) for x in range(0, image.width(), step_x) for y in range(0, image.height(), step_y)})


def source_of(name: str, request: pytest.FixtureRequest) -> Path:
    """The model file behind ``name``; real files need the shared models (skipped where absent, failing under CI)."""
    if name == "sample":
        return SAMPLE
    return Path(request.getfixturevalue("shared_models")) / REAL_FILES[name]


# ---------------------------------------------------------------------------------------
# Pictures of real models, exported in a process with no display
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every picture format for the sample and the real files (where present), from one headless process."""
    out = tmp_path_factory.mktemp("exported")
    sources = {"sample": SAMPLE}
    if SHARED_MODELS.is_dir():  # tests of the real files ask for the shared_models fixture, which skips or fails
        sources.update({name: SHARED_MODELS / rel for name, rel in REAL_FILES.items()})
    jobs: list[tuple[str, str, dict[str, Any]]] = []
    files: dict[str, Path] = {}
    for name, source in sources.items():
        for ext in ("svg", "png", "pdf"):
            files[f"{name}.{ext}"] = out / f"{name}.{ext}"
            jobs.append((str(source), str(out / f"{name}.{ext}"), {}))
    files["sample-lr-dark.svg"] = out / "sample-lr-dark.svg"
    jobs.append((str(SAMPLE), str(files["sample-lr-dark.svg"]), {"direction": "LR", "theme": "dark", "expand": "all"}))
    report = export_headless(jobs)
    assert report["QT_QPA_PLATFORM"] == "offscreen"  # chosen by netray, not by the caller
    return files


@pytest.mark.parametrize("name", ["sample", *REAL_FILES])
def test_svg_holds_every_visible_title_as_text(exported: dict[str, Path], name: str, request: pytest.FixtureRequest) -> None:
    source = source_of(name, request)
    texts = svg_texts(exported[f"{name}.svg"])
    assert_titles_are_text(scene_of(source), texts)


def test_svg_shows_attribute_lines_and_edge_labels(exported: dict[str, Path]) -> None:
    scene = scene_of(SAMPLE)
    texts = svg_texts(exported["sample.svg"])
    lines = [line for i in range(scene.size) if scene.kind[i] == ItemKind.NODE for line in scene.lines[i]]
    assert lines
    assert_shown_as_text(lines, texts, "attribute line")
    labels = {label for label in scene.edge_label if label}
    assert labels and labels <= set(texts)


def test_svg_fonts_fall_back_to_a_family_browsers_know(exported: dict[str, Path]) -> None:
    text = exported["sample.svg"].read_text()
    families = set(re.findall(r'font-family="([^"]*)"', text)) | set(re.findall(r"font-family:([^;}]*)", text))
    assert families
    assert all(family.split(",")[-1].strip() == "sans-serif" for family in families)


def test_svg_size_matches_the_scene_with_a_margin(exported: dict[str, Path]) -> None:
    from netray.svg import MARGIN

    root = ET.parse(exported["sample.svg"]).getroot()
    left, top, right, bottom = scene_of(SAMPLE).bounds()
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width == pytest.approx(right - left + 2 * MARGIN, abs=1)
    assert height == pytest.approx(bottom - top + 2 * MARGIN, abs=1)


def test_options_change_the_picture(exported: dict[str, Path]) -> None:
    plain = ET.parse(exported["sample.svg"]).getroot().attrib["viewBox"].split()
    sideways = ET.parse(exported["sample-lr-dark.svg"]).getroot().attrib["viewBox"].split()
    assert float(sideways[2]) > float(sideways[3])  # LR: wider than tall
    assert float(plain[3]) > float(plain[2])  # TB: taller than wide
    dark = exported["sample-lr-dark.svg"].read_text()
    assert "#1b1d21" in dark and "#1b1d21" not in exported["sample.svg"].read_text()  # the dark background
    assert_titles_are_text(scene_of(SAMPLE, "all", "LR"), svg_texts(exported["sample-lr-dark.svg"]))


@pytest.mark.parametrize("name", ["sample", *REAL_FILES])
def test_png_has_the_scene_size_and_is_drawn(exported: dict[str, Path], name: str, request: pytest.FixtureRequest) -> None:
    source = source_of(name, request)
    from netray_viewer.export import picture_rect, png_scale

    data = exported[f"{name}.png"].read_bytes()
    rect = picture_rect(scene_of(source))
    scale = png_scale(rect)
    width, height = png_size(data)
    assert width == pytest.approx(rect.width() * scale, abs=1.5)
    assert height == pytest.approx(rect.height() * scale, abs=1.5)
    assert png_colours(data) > 5  # boxes, text and edges, not a blank page


@pytest.mark.parametrize("name", ["sample", *REAL_FILES])
def test_pdf_is_one_page_of_the_graph_size(exported: dict[str, Path], name: str, request: pytest.FixtureRequest) -> None:
    source = source_of(name, request)
    from netray_viewer.export import MAX_PDF_SIDE, picture_rect

    data = exported[f"{name}.pdf"].read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    rect = picture_rect(scene_of(source))
    scale = min(1.0, MAX_PDF_SIDE / rect.width(), MAX_PDF_SIDE / rect.height())
    box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\s*\]", data)
    assert box is not None
    assert float(box.group(3)) - float(box.group(1)) == pytest.approx(rect.width() * scale, abs=2)
    assert float(box.group(4)) - float(box.group(2)) == pytest.approx(rect.height() * scale, abs=2)


def test_exports_never_change_the_model_file(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(SAMPLE.read_bytes())
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    for ext in ("svg", "json", "netray"):
        netray.export(source, tmp_path / f"out.{ext}")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "out.json", "out.netray", "out.svg"]


# ---------------------------------------------------------------------------------------
# Whole-scene painting beyond the painter's on-screen detail limit; PNG caps
# ---------------------------------------------------------------------------------------


def test_large_scenes_are_drawn_in_full_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above DETAIL_LIMIT items the export drives the painter's detailed steps itself: same texts."""
    from netray_viewer import export as viewer_export

    scene = scene_of(SAMPLE, "all")
    through_paint = viewer_export.render_scene(scene, ".svg")
    monkeypatch.setattr(viewer_export, "DETAIL_LIMIT", 10)
    direct = viewer_export.render_scene(scene, ".svg")
    texts = [(t.text or "").strip() for t in ET.fromstring(direct).iter(f"{SVG_NS}text")]
    assert sorted(texts) == sorted((t.text or "").strip() for t in ET.fromstring(through_paint).iter(f"{SVG_NS}text"))
    assert_titles_are_text(scene, texts)


def test_png_scale_is_capped_per_side_and_by_area() -> None:
    from PyQt6.QtCore import QRectF

    from netray_viewer.export import MAX_PNG_PIXELS, MAX_PNG_SIDE, PNG_SCALE, png_scale

    assert png_scale(QRectF(0, 0, 500, 800)) == PNG_SCALE
    tall = png_scale(QRectF(0, 0, 300, 100_000))
    assert 100_000 * tall <= MAX_PNG_SIDE
    square = png_scale(QRectF(0, 0, 8000, 8000))
    assert (8000 * square) ** 2 <= MAX_PNG_PIXELS * 1.0001 and 8000 * square <= MAX_PNG_SIDE


# ---------------------------------------------------------------------------------------
# .json and .netray outputs load back
# ---------------------------------------------------------------------------------------


def test_json_export_is_the_graph_document_and_decodes_to_the_same_model(tmp_path: Path) -> None:
    model = netray.load_model(SAMPLE)
    out = netray.export(model, tmp_path / "m.json")
    document = json.loads(out.read_text())
    assert document["format"] == "netray" and document["version"] == netrayfile.VERSION
    assert all("data" not in t for t in document["tensors"])  # structure only
    decoded = netrayfile.Decoder(document, [None] * len(document["tensors"])).build()
    assert_same(model, decoded, data=False)


@pytest.mark.parametrize("name", ["sample", *REAL_FILES])
def test_netray_export_loads_back_equal(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = source_of(name, request)
    model = netray.load_model(source)
    loaded = netray.load_model(netray.export(source, tmp_path / "m.netray"))
    assert_same(model, loaded, data=True)
    loaded = netray.load_model(netray.export(model, tmp_path / "s.netray", weights=False))
    assert_same(model, loaded, data=False)


# ---------------------------------------------------------------------------------------
# Options and errors
# ---------------------------------------------------------------------------------------


def test_unknown_extension_and_bad_options_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"cannot export to \.bmp; use one of \.svg"):
        netray.export(SAMPLE, tmp_path / "m.bmp")
    with pytest.raises(ExportError, match="no extension"):
        export_format(tmp_path / "m")
    with pytest.raises(ExportError, match="direction"):
        netray.export(SAMPLE, tmp_path / "m.svg", direction="BT")
    with pytest.raises(ExportError, match="theme"):
        netray.export(SAMPLE, tmp_path / "m.svg", theme="blue")
    with pytest.raises(ExportError, match="expand"):
        netray.export(SAMPLE, tmp_path / "m.svg", expand="some")
    with pytest.raises(ExportError, match="does not exist"):
        netray.export(SAMPLE, tmp_path / "missing" / "m.svg")
    assert list(tmp_path.iterdir()) == []
    assert expand_mode(2) == "2" and expand_mode("ALL") == "all"


def test_graph_option_by_index_and_by_name() -> None:
    model = netray.load_model(SAMPLE)
    assert pick_graph(model, 0) is model.main
    assert pick_graph(model, model.main.name) is model.main
    with pytest.raises(ExportError, match="1 top-level graph"):
        pick_graph(model, 3)
    with pytest.raises(ExportError, match=r"no graph named 'nope'.*main_graph"):
        pick_graph(model, "nope")


def test_subgraph_by_name(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from test_netrayfile import onnx_model_with_subgraphs

    path = tmp_path / "branches.onnx"
    onnx.save(onnx_model_with_subgraphs(), path)
    out = netray.export(path, tmp_path / "then.svg", graph="then")
    texts = svg_texts(out)
    assert "Relu" in texts and "MatMul" not in texts


def test_a_failed_export_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netray import svg as core_svg

    target = tmp_path / "m.svg"
    target.write_text("old")
    with pytest.raises(ExportError):
        netray.export(SAMPLE, target, graph="nope")

    def broken(*_args: Any, **_kwargs: Any) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(core_svg, "scene_svg", broken)
    with pytest.raises(OSError, match="disk full"):
        netray.export(SAMPLE, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.svg"]


def test_export_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    target.write_text("{}")
    target.chmod(0o640)
    netray.export(SAMPLE, target)
    assert target.stat().st_mode & 0o777 == 0o640
    assert json.loads(target.read_text())["format"] == "netray"


# ---------------------------------------------------------------------------------------
# The CLI
# ---------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netray.cli", *args], env=headless_env(), capture_output=True, text=True, timeout=300)


def test_cli_export_writes_a_picture_with_no_display(tmp_path: Path) -> None:
    out = tmp_path / "m.svg"
    result = run_cli("export", str(SAMPLE), "-o", str(out), "--direction", "LR", "--expand", "1", "--theme", "dark")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    assert_titles_are_text(scene_of(SAMPLE, "1", "LR"), svg_texts(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{tmp}/m.bmp"], "cannot export to .bmp"),
        (["-o", "{tmp}/m.svg", "--graph", "nope"], "no graph named 'nope'"),
        (["-o", "{tmp}/nowhere/m.svg"], "does not exist"),
    ],
)
def test_cli_export_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("export", str(SAMPLE), *(a.format(tmp=tmp_path) for a in args))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netray: error: ") and message in lines[0]


def test_cli_export_of_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 not a model")
    result = run_cli("export", str(bad), "-o", str(tmp_path / "m.png"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("netray: error: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.png").exists()


def test_pdf_pages_beyond_the_readers_limit_are_scaled_to_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from netray_viewer import export as viewer_export

    scene = scene_of(SAMPLE)
    rect = viewer_export.picture_rect(scene)
    monkeypatch.setattr(viewer_export, "MAX_PDF_SIDE", 500.0)
    data = viewer_export.render_scene(scene, ".pdf")
    box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\s*\]", data)
    assert box is not None
    width, height = float(box.group(3)) - float(box.group(1)), float(box.group(4)) - float(box.group(2))
    assert max(width, height) == pytest.approx(500, abs=2)
    assert width / height == pytest.approx(rect.width() / rect.height(), rel=0.02)


def test_json_exports_of_one_file_give_the_same_node_ids(tmp_path: Path) -> None:
    """Stable ids: two loads of the same file, in two processes, name every node alike."""
    ids = []
    for k in range(2):
        out = tmp_path / f"a{k}.json"
        result = subprocess.run([sys.executable, "-m", "netray.cli", "export", str(SAMPLE), "-o", str(out)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        document = json.loads(out.read_text())
        ids.append([n["id"] for g in document["graphs"] for n in g["nodes"]])
    assert ids[0] == ids[1]
    assert len(ids[0]) > 50 and all(ids[0]) and len(set(ids[0])) == len(ids[0])
