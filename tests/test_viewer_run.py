"""Run… in the window: a run in the background, its overlays, Go to First NaN / Divergence, the panel's
statistics, histograms and feature maps, Cancel, and failures as messages.

A small numpy runtime registered as a plugin (tests/numpy_runtime.py, as in test_run_engine) runs the test models,
so these tests need no onnxruntime; one test runs the real ONNX runtime where the ONNX
plugin offers it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from numpy_runtime import NumpyPlugin, registered
from onnx import TensorProto, helper, numpy_helper
from PyQt6.QtWidgets import QDialog
from test_viewer_support import (
    capture_warnings,
    menu_action,
    node_named,
    open_and_wait,
    settle,
    trigger,
    window_factory,
)

from netray.ir import Model
from netray.run import RunOptions
from netray.runtime import Cancelled, Capture, RunCancelled, RunError, ValueStats, finite_histogram
from netray_viewer import run_worker
from netray_viewer.run_dialog import RunDialog, parse_floats
from netray_viewer.run_panel import NONFINITE_RGB, RunView, feature_grid_array, ramp
from netray_viewer.run_worker import FeatureMaps
from netray_viewer.window import MainWindow

RUN_TIMEOUT_S = 30


class SlowRuntime:
    """Waits, polling the cancelled flag, until cancelled (or 20 s pass)."""

    name = "slow"
    backward_supported = False

    def __init__(self, model: Model) -> None:
        self.model = model

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        node = self.model.main.nodes[0]
        capture(next(iter(node.output_values())).name, np.zeros((1, 4, 8, 8), np.float32))
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if cancelled():
                raise RunCancelled("cancelled")
            time.sleep(0.01)
        raise RunError("slow runtime: never cancelled")

    def backward(self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        raise RunError("no gradients")


class BrokenRuntime(SlowRuntime):
    name = "broken"

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        raise RunError("broken runtime: Conv conv: kernel shape does not match the input")


class ViewerRuntimes(NumpyPlugin):
    """The numpy runtimes, and one that waits until cancelled and one that fails."""

    def extra(self, model: Model, name: str) -> object:
        if name == "slow":
            return SlowRuntime(model)
        if name == "broken":
            return BrokenRuntime(model)
        return None


@pytest.fixture
def numpy_plugin() -> Iterator[NumpyPlugin]:
    with registered(ViewerRuntimes(), "numpy-runtime-viewer-test") as plugin:
        yield plugin


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return capture_warnings(monkeypatch)


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Any:
    return window_factory(qtbot, tmp_path)


def conv_nan_model(path: Path) -> Path:
    """image -> Conv -> Relu -> Neg -> Log (NaN where the Relu was positive, -inf at its zeros) -> pool -> y.

    Every activation but the last is 4-D: N, C, H, W.
    """
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["conv_out"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu"),
        helper.make_node("Neg", ["relu_out"], ["negated"], name="negate"),
        helper.make_node("Log", ["negated"], ["logged"], name="log"),
        helper.make_node("GlobalAveragePool", ["logged"], ["y"], name="pool"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_nan",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 12, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6, 1, 1])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def run_and_wait(window: MainWindow, **options: Any) -> None:
    options.setdefault("runtime", "numpy")
    assert window.runs.start(RunOptions(**options))
    assert window.runs.wait(RUN_TIMEOUT_S)


def opened(make_window: Any, tmp_path: Path) -> MainWindow:
    window = make_window("all")
    open_and_wait(window, conv_nan_model(tmp_path / "conv_nan.onnx"))
    return window


# -- the dialog, the run, the overlays, Go to First NaN ---------------------------------------------------------


def test_run_from_the_menu_colours_the_graph_and_goes_to_the_first_nan(
    numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, shown: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = opened(make_window, tmp_path)
    assert not menu_action(window, "Go", "Go to First NaN").isEnabled()
    seen: dict[str, Any] = {}

    def accept(dialog: RunDialog) -> int:
        seen["dims"] = {name: box.value() for name, box in dialog.dim_boxes.items()}
        dialog.seed.setValue(7)
        dialog.runtime.setText("numpy")
        dialog.dim_boxes["batch"].setValue(2)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(RunDialog, "exec", accept)
    trigger(window, "Run", "Run…")
    assert window.runs.running or window.runs.result is not None
    assert window.runs.wait(RUN_TIMEOUT_S)
    assert seen["dims"] == {"batch": 1}  # prefilled from the model's named dimensions
    result = window.runs.result
    assert result is not None and shown == []
    assert result.inputs["image"].shape == (2, 3, 12, 10)
    assert result.first_nonfinite is not None and result.first_nonfinite["name"] == "log"
    assert "first NaN/Inf at log (Log)" in window.status_label.text()
    # The Metric menu offers the run's statistics, and the graph is coloured by mean |x|.
    for name in ("mean |x|", "std", "max |x|", "NaN/Inf count", "zeros %"):
        assert menu_action(window, "Metric", name).isEnabled()
    assert window.overlays.state.metric is not None and window.overlays.state.metric.name == "mean |x|"
    nan_metric = window.overlays.metric_named("NaN/Inf count")
    assert nan_metric is not None and nan_metric.values[node_named(window, "log").id] == result.values["logged"].nonfinite
    assert window.overlays.legend.isVisible() and "mean |x|" in window.overlays.legend.text()
    # Go › Go to First NaN selects the Log node and says so.
    window.show_model_properties()
    trigger(window, "Go", "Go to First NaN")
    settle(window)
    assert window.selected == ("node", node_named(window, "log"))
    assert "First NaN/Inf: log (Log) made logged non-finite" in window.status_label.text()
    text = window.panel.plain_text()
    assert "Run: output (numpy)" in text and "NaN/Inf" in text and "(2, 6, 12, 10)" in text
    # No comparison was asked: First Divergence is off, and says why when called anyway.
    assert not menu_action(window, "Go", "Go to First Divergence").isEnabled()
    assert not window.runs.go_first_divergence() and "compared with nothing" in window.status_label.text()


def test_a_second_run_replaces_the_metrics_and_a_new_model_forgets_them(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path) -> None:
    window = opened(make_window, tmp_path)
    run_and_wait(window, seed=1)
    first = window.overlays.metric_named("mean |x|")
    run_and_wait(window, seed=2)
    names = [m.name for m in window.overlays.metrics]
    assert names.count("mean |x|") == 1 and window.overlays.metric_named("mean |x|") is not first
    assert window.overlays.state.metric is window.overlays.metric_named("mean |x|")  # still colouring, new numbers
    open_and_wait(window, conv_nan_model(tmp_path / "again.onnx"))
    assert window.runs.result is None and window.overlays.metric_named("mean |x|") is None
    assert not menu_action(window, "Go", "Go to First NaN").isEnabled()


def test_the_panel_shows_statistics_a_histogram_and_feature_maps(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path) -> None:
    window = opened(make_window, tmp_path)
    run_and_wait(window, seed=3)
    result = window.runs.result
    assert result is not None
    conv = node_named(window, "conv")
    window.reveal_node(conv)
    settle(window)
    assert window.selected == ("node", conv)
    views = window.panel.run_views
    assert len(views) == 1 and isinstance(views[0], RunView)
    view = views[0]
    stats = result.values["conv_out"]
    text = view.plain_text()
    for key in ("shape", "dtype", "min", "max", "mean", "std", "NaN/Inf", "zeros"):
        assert key in text
    assert f"{stats.max:.5g}" in text and "float32" in text and "(1, 6, 12, 10)" in text
    # The histogram: the run's bins of the finite values.
    assert view.plot is not None
    curve = view.plot.getPlotItem().listDataItems()[0]  # type: ignore[union-attr]
    _, ys = curve.getData()
    assert view.histogram is not None and list(ys) == view.histogram[0] and len(view.histogram[0]) == 32
    assert sum(view.histogram[0]) == stats.size - stats.nonfinite and view.histogram[1][0] == stats.min
    # The feature maps: 6 channels of the first sample, each its own min..max, in a grid.
    assert view.grid is not None and view.grid.isVisible()
    assert view.grid.channels == 6 and view.grid.columns == 3 and view.grid.rows == 2
    assert view.grid.height() > 0 and view.grid.width() > 0
    assert "Feature maps: first sample, 6 channels (NCHW)" in view.plain_text()
    image = view.grid.image
    assert (image.width(), image.height()) == (3 * 10 + 2, 2 * 12 + 1)
    # A pixel of channel 0 is on the theme's ramp, at its position in the channel's own range.
    maps = window.runs.features.maps["conv_out"]  # type: ignore[union-attr]
    assert maps.shape == (6, 12, 10)
    channel = maps[0]
    k = int(np.argmax(channel))
    y, x = divmod(k, 10)
    top = ramp(window.theme.name)[-1]
    assert tuple(image.pixelColor(x, y).getRgb()[:3]) == tuple(int(v) for v in top)
    # The Log's output holds NaN and -inf: its maps paint them red, its panel counts them.
    window.reveal_node(node_named(window, "log"))
    settle(window)
    log_view = window.panel.run_views[0]
    assert isinstance(log_view, RunView) and log_view.grid is not None
    assert f"{result.values['logged'].nonfinite:,}" in log_view.plain_text()
    # An edge's value shows its statistics too; the pooled 1x1 maps are not drawn.
    window.reveal_node(node_named(window, "pool"))
    settle(window)
    pool_view = window.panel.run_views[0]
    assert isinstance(pool_view, RunView) and pool_view.grid is None and "too small to draw" in pool_view.plain_text()
    value = window.model.main.values["relu_out"]  # type: ignore[union-attr]
    window.select_ref("value", value)
    assert "Run (numpy)" in window.panel.plain_text()
    # The model's panel sums the run up, with a link to the first NaN.
    window.show_model_properties()
    assert "Last run" in window.panel.plain_text() and "node:log" in window.panel.html()


def test_a_value_past_the_feature_budget_says_it_was_not_kept(
    numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_worker, "FEATURE_BUDGET", 6 * 12 * 10 * 4)  # the first activation only
    window = opened(make_window, tmp_path)
    run_and_wait(window)
    features = window.runs.features
    assert features is not None and set(features.maps) == {"conv_out"} and "relu_out" in features.skipped
    window.reveal_node(node_named(window, "relu"))
    settle(window)
    view = window.panel.run_views[0]
    assert isinstance(view, RunView) and view.grid is None and "not kept" in view.plain_text()


def test_theme_switch_repaints_the_feature_maps(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path) -> None:
    window = opened(make_window, tmp_path)
    run_and_wait(window)
    window.reveal_node(node_named(window, "conv"))
    settle(window)
    window.apply_theme("dark")
    view = window.panel.run_views[0]
    assert isinstance(view, RunView) and view.grid is not None
    gap = view.grid.image.pixelColor(10, 0)  # the gap after the first map: the background
    assert gap.name() == window.theme.background.name()
    window.apply_theme("light")


# -- compare and backward ------------------------------------------------------------------------------------------


def test_compare_finds_the_first_divergence(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, shown: list[str]) -> None:
    window = opened(make_window, tmp_path)
    run_and_wait(window, compare="skewed")
    assert shown == []
    result = window.runs.result
    assert result is not None and result.first_divergence is not None
    assert menu_action(window, "Metric", "compare difference").isEnabled()
    trigger(window, "Go", "Go to First Divergence")
    settle(window)
    assert window.selected == ("node", node_named(window, "negate"))
    assert "First divergence from skewed: negated at negate (Neg)" in window.status_label.text()
    text = window.panel.plain_text()
    assert "Compared" in text and "the first value that diverges" in text and "0.5" in text


def test_backward_adds_gradient_norms(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, shown: list[str]) -> None:
    window = opened(make_window, tmp_path)
    run_and_wait(window, runtime="grad", backward=True)
    assert shown == []
    assert menu_action(window, "Metric", "gradient norm").isEnabled()
    window.reveal_node(node_named(window, "relu"))
    settle(window)
    assert "Gradient" in window.panel.plain_text() and "norm" in window.panel.plain_text()
    # The gradient's histogram is drawn under its statistics, with the run's bins.
    view = window.panel.run_views[0]
    assert isinstance(view, RunView) and view.gradient_plot is not None and view.gradient_histogram is not None
    gradient = window.runs.result.value_gradients[view.name]  # type: ignore[union-attr]
    assert view.gradient_histogram == gradient.histogram and sum(gradient.histogram[0]) == gradient.size  # type: ignore[index]


# -- cancel and failures ---------------------------------------------------------------------------------------------


def test_cancel_stops_the_run(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, qtbot: Any, shown: list[str]) -> None:
    window = opened(make_window, tmp_path)
    assert window.runs.start(RunOptions(runtime="slow"))
    assert window.runs.progress.isVisible() and window.runs.cancel_button.isVisible()
    assert menu_action(window, "Run", "Cancel Run").isEnabled() and not menu_action(window, "Run", "Run…").isEnabled()
    assert not window.runs.start(RunOptions())  # one run at a time
    qtbot.waitUntil(lambda: window.runs.progress.maximum() > 0, timeout=5000)  # the first value came
    window.runs.cancel_button.click()
    assert window.runs.wait(RUN_TIMEOUT_S)
    assert window.runs.cancelled and window.runs.result is None
    assert window.status_label.text() == "Run cancelled" and not window.runs.progress.isVisible()
    assert menu_action(window, "Run", "Run…").isEnabled() and shown == []


def test_a_run_without_gradients_keeps_its_forward_results(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, shown: list[str]) -> None:
    window = opened(make_window, tmp_path)
    run_and_wait(window, backward=True)
    assert len(shown) == 1 and "no gradients" in shown[0]
    assert window.runs.result is not None and window.runs.result.values
    assert "no gradients" in window.status_label.text()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"runtime": "broken"}, "broken runtime: Conv conv: kernel shape does not match the input"),
        ({"runtime": "nonesuch"}, "no installed plugin runs ONNX 'nonesuch' models"),
        ({"inputs": "missing.npz"}, "missing.npz: no such file"),
    ],
)
def test_a_failed_run_is_a_message(
    numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, shown: list[str], options: dict[str, Any], expected: str
) -> None:
    window = opened(make_window, tmp_path)
    if "inputs" in options:
        options = {"inputs": str(tmp_path / options["inputs"])}
    if "nonesuch" in options.values():
        expected = expected.replace("ONNX", window.model.format)  # type: ignore[union-attr]
    run_and_wait(window, **options)
    assert len(shown) == 1 and expected in shown[0]
    assert window.runs.result is None and window.status_label.text() == "The run failed"
    assert menu_action(window, "Run", "Run…").isEnabled()


def test_a_missing_runtime_says_what_to_install(numpy_plugin: NumpyPlugin, make_window: Any, tmp_path: Path, shown: list[str]) -> None:
    numpy_plugin.missing = True
    window = opened(make_window, tmp_path)
    run_and_wait(window)
    assert len(shown) == 1 and "pip install numpy-runtime" in shown[0]


# -- the dialog ---------------------------------------------------------------------------------------------------


def test_the_dialog_makes_options_and_remembers_them(qtbot: Any, tmp_path: Path) -> None:
    from PyQt6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialog = RunDialog({"batch": 4}, settings, onnx=True)
    qtbot.addWidget(dialog)
    options = dialog.options()
    assert options.inputs is None and options.seed == 0 and options.dims == {"batch": 4}
    assert options.compare is None and not options.backward and options.runtime == ""
    assert not dialog.image_path.isEnabled() or not dialog.image.isChecked()
    dialog.image.setChecked(True)
    with pytest.raises(ValueError, match="choose an image"):
        dialog.options()
    dialog.image_path.setText(str(tmp_path / "cat.png"))
    dialog.mean.setText("0.5, 0.5, 0.5")
    dialog.std.setText("0.25 0.25 0.25")
    dialog.backward.setChecked(True)
    dialog.choose_compare("reference")
    options = dialog.options()
    assert options.inputs == str(tmp_path / "cat.png") and options.mean == (0.5, 0.5, 0.5) and options.std == (0.25, 0.25, 0.25)
    assert options.backward and options.compare == "reference"
    dialog.choose_compare("file", str(tmp_path / "nope.onnx"))
    with pytest.raises(ValueError, match="no such file"):
        dialog.options()
    dialog.choose_compare("none")
    dialog._accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    again = RunDialog({}, settings)
    qtbot.addWidget(again)
    assert again.image.isChecked() and again.mean.text() == "0.5, 0.5, 0.5" and again.backward.isChecked()
    assert again.compare.findData("reference") == -1  # not an ONNX model: no reference evaluator
    with pytest.raises(ValueError):
        parse_floats("a, b")


# -- pieces ----------------------------------------------------------------------------------------------------------


def test_feature_maps_keep_the_first_sample_channels_first() -> None:
    keep = FeatureMaps(channels_last=True, budget=10**6)
    nhwc = np.arange(2 * 5 * 4 * 70, dtype=np.float32).reshape(2, 5, 4, 70)
    assert keep("x", nhwc) is False  # nothing for the engine to keep: the maps are ours
    assert keep.maps["x"].shape == (64, 5, 4) and keep.layout["x"] == "NHWC"
    assert np.array_equal(keep.maps["x"][3], nhwc[0, :, :, 3])
    keep("ints", np.zeros((1, 2, 3, 3), np.int64))
    keep("flat", np.zeros((1, 8), np.float32))
    assert set(keep.maps) == {"x"}


def test_histograms_of_narrow_ranges_and_non_finite_values() -> None:
    counts, edges = ValueStats.of(np.array([1e8, 1e8 + 8, np.nan, np.inf], np.float32), bins=32).histogram  # type: ignore[misc]
    assert len(counts) == 32 and sum(counts) == 2 and edges[0] == 1e8 and edges[-1] == 1e8 + 8
    counts, edges = ValueStats.of(np.full(5, 1e20, np.float32), bins=32).histogram  # type: ignore[misc]
    assert sum(counts) == 5 and edges[0] <= 1e20 * (1 + 1e-7)
    counts, _ = ValueStats.of(np.array([[True, False, True]]), bins=32).histogram  # type: ignore[misc]
    assert sum(counts) == 3
    assert ValueStats.of(np.array([np.nan], np.float32), bins=32).histogram is None
    tiny = float(np.nextafter(1.0, 2.0))  # a range too narrow for 32 float64 bins: one bin
    counts, edges = finite_histogram(np.array([1.0, tiny]), 1.0, tiny, 32)
    assert counts == [2] and edges == [1.0, tiny]


def test_feature_grid_normalises_each_channel_and_paints_nan_red() -> None:
    maps = np.zeros((2, 2, 3), np.float32)
    maps[0] = [[0, 1, 2], [3, 4, 5]]
    maps[1] = np.array([[100, 100, 100], [100, 100, np.nan]])
    picture = feature_grid_array(maps, "light", (255, 255, 255))
    assert picture.shape == (2, 3 + 1 + 3, 4)
    lut = ramp("light")
    assert (picture[0, 0, :3] == lut[0]).all() and (picture[1, 2, :3] == lut[-1]).all()
    assert (picture[0, 3, :3] == 255).all()  # the gap
    assert (picture[0, 4, :3] == lut[128]).all()  # a constant channel is the ramp's middle
    assert tuple(picture[1, 6, :3]) == NONFINITE_RGB


def _onnx_runtime_offered() -> bool:
    try:
        source = (Path(__file__).resolve().parent.parent / "plugins" / "onnx" / "netray_onnx" / "plugin.py").read_text()
    except OSError:
        return False
    return "netray_runtime" in source


@pytest.mark.skipif(not _onnx_runtime_offered(), reason="the ONNX plugin offers no runtime yet")
def test_the_real_onnx_runtime_paints_the_conv_net(make_window: Any, tmp_path: Path, shown: list[str]) -> None:
    pytest.importorskip("onnxruntime")
    window = opened(make_window, tmp_path)
    run_and_wait(window, seed=5, runtime="")
    assert shown == [], shown
    result = window.runs.result
    assert result is not None and result.runtime == "onnxruntime"
    assert result.first_nonfinite is not None and result.first_nonfinite["name"] == "log"
    assert window.runs.go_first_nonfinite()
    settle(window)
    window.reveal_node(node_named(window, "conv"))
    settle(window)
    view = window.panel.run_views[0]
    assert isinstance(view, RunView) and view.grid is not None and view.grid.channels == 6


def test_feature_grid_clips_a_few_extreme_pixels() -> None:
    """One pixel a thousand times the others does not crush the channel to the ramp's dark end."""
    maps = np.linspace(0.0, 1.0, 400, dtype=np.float32).reshape(1, 20, 20)
    maps[0, 0, 0] = 1000.0
    picture = feature_grid_array(maps, "light", (255, 255, 255))
    lut = ramp("light")
    middle = picture[10, 10, :3]  # a value near 0.5 of the ordinary range
    assert not (middle == lut[0]).all() and not (middle == lut[1]).all()
    assert (picture[0, 0, :3] == lut[-1]).all()  # the outlier: clipped to the top
