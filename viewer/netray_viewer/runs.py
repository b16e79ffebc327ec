"""Run…: running the open model in the background and painting what happened onto its graph.

:class:`Runs` asks for the inputs (:class:`~netray_viewer.run_dialog.RunDialog`), runs the
model through the window's jobs (one run at a time, a progress bar of values
captured and a Cancel button in the status bar), and when the run is done offers its
per-node statistics as overlays (Metric menu: mean |x|, std, max |x|, NaN/Inf count,
zeros %, and gradient norm and compare difference when asked), colouring by mean |x|
if nothing colours the graph yet. Go › First NaN and First Divergence jump to the
nodes the run found; the panel shows each value's statistics, histogram and, for a
4-D activation, its feature maps (:mod:`netray_viewer.run_panel`). A failed run (a
runtime's error, a runtime not installed with what to install) is a message box.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QDialog, QMessageBox, QProgressBar, QToolButton, QWidget

from netray.ir import Node, Value
from netray_viewer.run_worker import FeatureMaps

if TYPE_CHECKING:
    from netray.run import RunOptions, RunResult
    from netray_viewer.window import MainWindow

DEFAULT_METRIC = "mean |x|"  # what colours the graph after a run when nothing did
MAX_RUN_VIEWS = 8  # outputs of one node shown with their statistics


class Runs:
    """The window's runs: the one in progress and the last one's results."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.result: RunResult | None = None
        self.features: FeatureMaps | None = None
        self.error = ""  # the last failure's message
        self.cancelled = False
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setFormat("run %v / %m")
        self.progress.setToolTip("Values captured of all the graph names")
        self.progress.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the run")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        status = window.statusBar()
        assert status is not None
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        jobs = window.jobs
        jobs.run_progress.connect(self._on_progress)
        jobs.run_done.connect(self._on_done)
        jobs.run_failed.connect(self._on_failed)
        jobs.run_cancelled.connect(self._on_cancelled)

    # -- state ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.window.jobs.running_model

    @property
    def can_run(self) -> bool:
        w = self.window
        return w.model is not None and w.navigation is not None and w.navigation.has_graph and not self.running

    def model_opened(self) -> None:
        """A new model: stop the run in progress, forget the last one's results."""
        self.window.jobs.forget_run()
        self.result = None
        self.features = None
        self.error = ""
        self._show_running(False)

    # -- running -------------------------------------------------------------------------------
    def dialog(self) -> None:
        """Run…: choose inputs and options, then run in the background."""
        from netray_viewer.run_dialog import RunDialog

        w = self.window
        if not self.can_run or w.model is None:
            return
        names = w.overlays.dimension_names()
        assumed = dict(self.result.assumed_dims) if self.result is not None else {}
        dims = {name: int({**assumed, **w.overlays.dims}.get(name, 1)) for name in names}
        dialog = RunDialog(dims, w.settings, onnx=w.model.format == "ONNX", parent=w)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start(dialog.options())

    def start(self, options: RunOptions) -> bool:
        """Run the open model with ``options`` in the background; False if it cannot start now."""
        w = self.window
        model = w.model
        if model is None or not self.can_run:
            w.status_label.setText("A run is in progress" if self.running else "Open a model with a graph to run it")
            return False
        self.error = ""
        self.cancelled = False
        if not w.jobs.run(model, options):
            return False
        self._show_running(True)
        w.status_label.setText(f"Running {model.source.name if model.source else 'the model'}…")
        w.commands.refresh()
        return True

    def cancel(self) -> bool:
        """Stop the run in progress (the runtime stops at its next step)."""
        if self.window.jobs.cancel_run():
            self.window.status_label.setText("Cancelling the run…")
            self.cancel_button.setEnabled(False)
            return True
        return False

    def wait(self, timeout_s: float | None = 60.0) -> bool:
        """Process events until the run ends (tests, snapshots); False on timeout."""
        return self.window.jobs.wait_for_run(timeout_s)

    def _show_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setRange(0, 0)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_done(self, result: RunResult, features: FeatureMaps) -> None:
        w = self.window
        self._show_running(False)
        self.result = result
        self.features = features
        overlays = w.overlays
        overlays.add_metrics(result.metrics())
        if overlays.state.metric is None:
            overlays.choose(DEFAULT_METRIC)
        w.status_label.setText(self.summary())
        w.commands.refresh()
        if result.backward_error and not w.raise_errors:  # the forward results stand; say why there are no gradients
            QMessageBox.warning(w, "netray — no gradients", result.backward_error)
        if w.selected is not None:
            w.select_ref(*w.selected)
        elif w.model is not None:
            w.show_model_properties()

    def _on_failed(self, message: str) -> None:
        w = self.window
        self._show_running(False)
        self.error = message
        w.status_label.setText("The run failed")
        w.commands.refresh()
        if not w.raise_errors:
            QMessageBox.warning(w, "netray — run failed", message)

    def _on_cancelled(self) -> None:
        self._show_running(False)
        self.cancelled = True
        self.window.status_label.setText("Run cancelled")
        self.window.commands.refresh()

    def summary(self) -> str:
        """One line for the status bar: what the run found."""
        r = self.result
        if r is None:
            return ""
        parts = [f"Ran on {r.runtime}: {len(r.values):,} values"]
        if r.first_nonfinite is not None:
            parts.append(f"first NaN/Inf at {self._where(r.first_nonfinite)} (Go › First NaN)")
        elif r.constant_infinities:
            parts.append(f"no NaN or Inf but the infinities of {len(r.constant_infinities):,} constants (masks)")
        else:
            parts.append("no NaN or Inf")
        if r.compared_with:
            found = r.first_divergence
            parts.append(f"first divergence from {r.compared_with} at {self._where(found)}" if found else f"matches {r.compared_with}")
        if r.backward_error:
            parts.append("no gradients")
        if r.assumed_dims:
            parts.append("assumed " + ", ".join(f"{k} = {v}" for k, v in r.assumed_dims.items()))
        return "; ".join(parts)

    @staticmethod
    def _where(found: dict[str, Any]) -> str:
        return f"{found.get('name') or found.get('node')} ({found.get('op', '?')})"

    # -- going to what the run found ------------------------------------------------------------
    def go_first_nonfinite(self) -> bool:
        """Select the first node whose output held NaN or Inf while its inputs were finite."""
        r = self.result
        if r is None:
            self.window.status_label.setText("No run yet: Run… first")
            return False
        if r.first_nonfinite is None:
            self.window.status_label.setText("The last run found no NaN or Inf")
            return False
        found = r.first_nonfinite
        text = f"First NaN/Inf: {self._where(found)} made {found.get('value')} non-finite"
        if found.get("cause"):
            text += f"; {found['cause']}"
        return self._go(found, text)

    def go_first_divergence(self) -> bool:
        """Select the first node whose output differs from the other runtime's beyond the tolerance."""
        r = self.result
        if r is None:
            self.window.status_label.setText("No run yet: Run… first")
            return False
        if not r.compared_with:
            self.window.status_label.setText("The last run compared with nothing: Run… with Compare with")
            return False
        if r.first_divergence is None:
            self.window.status_label.setText(f"No value diverges from {r.compared_with}")
            return False
        found = r.first_divergence
        text = f"First divergence from {r.compared_with}: {found.get('value')} at {self._where(found)}, max |diff| {found.get('max_abs', 0):.3g}"
        return self._go(found, text)

    def _go(self, found: dict[str, Any], text: str) -> bool:
        w = self.window
        node = w.model.node(str(found.get("node"))) if w.model is not None else None
        if node is None:
            w.status_label.setText(f"{text} (the node is not in the graph shown)")
            return False
        w.reveal_node(node)
        w.status_label.setText(text)
        return True

    # -- the panel -----------------------------------------------------------------------------
    def _in_main(self, node: Node | None) -> bool:
        r = self.result
        if r is None or node is None:
            return False
        nodes = r.model.main.nodes
        return node.index < len(nodes) and nodes[node.index] is node

    def views_for_node(self, node: Node) -> list[QWidget]:
        """A view of each output of ``node`` the last run captured (none before a run)."""
        if not self._in_main(node):
            return []
        outputs = [v for v in node.output_values() if self.result is not None and v.name in self.result.values]
        many = len(outputs) > 1
        return [self.view(v, title=f"Run: {v.name}" if many else "Run: output") for v in outputs[:MAX_RUN_VIEWS]]

    def views_for_value(self, value: Value) -> list[QWidget]:
        """A view of ``value`` as the last run saw it (an input's statistics too)."""
        r = self.result
        if r is None or (value.producer is not None and not self._in_main(value.producer)):
            return []
        if value.name not in r.values and value.name not in r.inputs:
            return []
        return [self.view(value, title="Run")]

    def view(self, value: Value, title: str = "Run") -> QWidget:
        from netray_viewer.run_panel import RunView

        r = self.result
        assert r is not None
        name = value.name
        stats = r.values.get(name) or r.inputs[name]
        maps = self.features.maps.get(name) if self.features is not None else None
        note = ""
        if maps is not None:
            spatial = maps.shape[1] * maps.shape[2]
            if spatial < 4:
                note = f"Feature maps: {maps.shape[1]}×{maps.shape[2]} each, too small to draw"
                maps = None
            else:
                total = self._channels(stats)
                shown = maps.shape[0]
                layout = self.features.layout.get(name, "NCHW") if self.features is not None else "NCHW"
                more = f" of {total:,}" if total > shown else ""
                note = f"Feature maps: first sample, {shown}{more} channels ({layout}), each scaled to its own range (0.5–99.5th percentile)"
        elif self.features is not None and name in self.features.skipped:
            note = "Feature maps: not kept (the run's budget for feature maps was spent on earlier values)"
        elif len(stats.shape) == 4 and stats.dtype.startswith("float") and name not in r.inputs:
            note = "Feature maps: not kept for this value"
        difference = r.compare.get(name)
        diverges = r.first_divergence is not None and r.first_divergence.get("value") == name
        return RunView(
            name,
            stats,
            self.window.theme,
            histogram=stats.histogram,
            title=f"{title} ({r.runtime})",
            gradient=r.value_gradients.get(name),
            difference=difference,
            compared_with=r.compared_with,
            diverges=diverges,
            maps=maps,
            maps_note=note,
        )

    def _channels(self, stats: Any) -> int:
        shape = stats.shape
        if len(shape) != 4:
            return 0
        last = self.features is not None and self.features.channels_last
        return int(shape[3] if last else shape[1])

    def model_html(self) -> str:
        """The last run in the model's panel: runtime, outputs, what it found (links to the nodes)."""
        from netray_viewer.properties import link_target

        r = self.result
        if r is None:
            return ""
        rows = [("runtime", escape(r.runtime)), ("values", f"{len(r.values):,} captured")]
        for name, s in list(r.outputs.items())[:8]:
            shape = "(" + ", ".join(str(d) for d in s.shape) + ")"
            nan = f", <b>{s.nonfinite:,} NaN/Inf</b>" if s.nonfinite else ""
            mean = f"{s.mean:.4g}" if s.mean is not None else "—"
            rows.append((f"output {escape(name)}", f"{escape(s.dtype)} {shape}, mean {mean}{nan}"))

        def link(found: dict[str, Any] | None, none: str) -> str:
            if found is None:
                return none
            node = r.model.node(str(found.get("node")))
            label = escape(self._where(found))
            return f"<a href='node:{link_target(node)}'>{label}</a>" if node is not None else label

        rows.append(("first NaN/Inf", link(r.first_nonfinite, "none")))
        if r.compared_with:
            rows.append(("compared with", escape(r.compared_with)))
            rows.append(("first divergence", link(r.first_divergence, "none")))
        if r.assumed_dims:
            rows.append(("assumed", escape(", ".join(f"{k} = {v}" for k, v in r.assumed_dims.items()))))
        body = "".join(f"<tr><td style='padding-right:8px'><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        return f"<h4 style='margin-bottom:2px'>Last run</h4><table width='100%' cellspacing=0 cellpadding=1>{body}</table>"

