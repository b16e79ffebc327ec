"""The window's metric overlays: which metrics there are, which one colours the graph, and how.

Metrics come from the model's costs (computed in the background once the first
layout is shown), from node data files (File › Load Node Data…) and from whoever
calls :meth:`Overlays.add_metrics` (the run issue, plugins). One of them, or none,
colours the graph (:class:`~netray_viewer.overlay.OverlayState`, kept per window: a
metric of the same name is chosen again in the next model opened). All of them
export as one CSV. View › Dimensions… gives named input dimensions a number;
shapes, labels and costs follow.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from netray.errors import FormatError
from netray.hierarchy import Group
from netray.ir import Model, Node, TensorType, Value
from netray.metrics import Metric, load_node_data, write_csv
from netray_viewer import properties
from netray_viewer.dimensions import DimensionsDialog
from netray_viewer.legend import Legend
from netray_viewer.overlay import OverlayPaint, OverlayState

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

LEGEND_MARGIN = 12


class Overlays:
    """Metrics of the open model and the overlay drawn from one of them."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.state = OverlayState()
        self.wanted: str | None = None  # the chosen metric's name, chosen again when a model has it
        self.report: Any = None  # netray.costs.CostReport of the main graph
        self.cost_metrics: list[Metric] = []
        self.extra_metrics: list[Metric] = []  # loaded from files or added by callers
        self.cost_error = ""
        self.dims: dict[str, int] = {}
        self._dim_names: list[str] | None = None
        self._stated_types: list[tuple[Value, TensorType]] | None = None  # types before any dims were applied
        self._costs_wanted = False
        self.paint: OverlayPaint | None = None
        self.legend = Legend(window.theme, window.canvas)
        window.jobs.costs_ready.connect(self._on_costs)
        window.jobs.costs_failed.connect(self._on_costs_failed)

    # -- what there is ------------------------------------------------------------------------
    @property
    def metrics(self) -> list[Metric]:
        return [*self.cost_metrics, *self.extra_metrics]

    def metric_named(self, name: str | None) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None) if name else None

    @property
    def computing_costs(self) -> bool:
        return self.window.jobs.computing_costs

    def model_opened(self, model: Model, has_graph: bool = True) -> None:
        """A new model: its metrics come with its costs; the first scene shown starts them (none without a graph)."""
        self.window.jobs.forget_costs()
        self.report = None
        self.cost_metrics = []
        self.extra_metrics = []
        self.cost_error = ""
        self.dims = {}
        self._dim_names = None
        self._stated_types = None
        self._costs_wanted = has_graph
        self.state = OverlayState()  # ``wanted`` stays: the same metric is chosen when the costs come
        self.apply()

    def scene_shown(self) -> None:
        """A scene is on the canvas: colour it, and compute the costs if they are still to do."""
        if self._costs_wanted and self.window.model is not None:
            self._costs_wanted = False
            self.start_costs()
        self.apply()

    def start_costs(self) -> None:
        model = self.window.model
        if model is not None and model.graphs:
            self.window.jobs.costs(model, dict(self.dims))

    def wait_for_costs(self, timeout_s: float = 30.0) -> bool:
        """Process events until the costs are in (tests, snapshots); False on timeout."""
        app = QApplication.instance()
        start = time.monotonic()
        while self.computing_costs or self._costs_wanted:
            if time.monotonic() - start > timeout_s:
                return False
            if app is not None:
                app.processEvents()
            time.sleep(0.002)
        return True

    def _on_costs(self, report: Any) -> None:
        self.report = report
        self.cost_metrics = report.metrics()
        self.cost_error = ""
        chosen = self.state.metric
        if chosen is not None and chosen.name == self.wanted and chosen not in self.extra_metrics:
            # Costs computed again (new dimensions): the same metric, same scale, new numbers.
            fresh = self.metric_named(chosen.name)
            self.state = replace(self.state, metric=fresh) if fresh is not None else OverlayState()
        elif chosen is None and self.metric_named(self.wanted) is not None:
            self.state = OverlayState.of(self.metric_named(self.wanted))
        self.apply()
        self._refresh_selection()

    def _on_costs_failed(self, message: str) -> None:
        self.cost_error = message
        self.window.status_label.setText(message)
        self.window.commands.refresh()

    def add_metrics(self, metrics: list[Metric]) -> None:
        """Offer more metrics (a run's statistics, a plugin's numbers); one of the same name is replaced."""
        names = {m.name for m in metrics}
        self.extra_metrics = [m for m in self.extra_metrics if m.name not in names] + list(metrics)
        self.cost_metrics = [m for m in self.cost_metrics if m.name not in names]
        if self.state.metric is not None and self.state.metric.name in names:
            self.state = replace(self.state, metric=self.metric_named(self.state.metric.name))
            self.apply()
        self.window.commands.refresh()

    # -- choosing ------------------------------------------------------------------------------
    def choose(self, name: str | None) -> None:
        """Colour by the metric called ``name`` with the scale it asks for; None: the usual colours."""
        metric = self.metric_named(name)
        self.wanted = metric.name if metric is not None else None
        self.state = OverlayState.of(metric)
        self.apply()
        self._refresh_selection()

    def set_log(self, log: bool) -> None:
        if self.state.metric is not None and log != self.state.log:
            self.state = replace(self.state, log=log)
            self.apply()

    def set_diverging(self, diverging: bool) -> None:
        if self.state.metric is not None and diverging != self.state.diverging:
            self.state = replace(self.state, diverging=diverging)
            self.apply()

    # -- drawing -------------------------------------------------------------------------------
    def apply(self) -> None:
        """Colour the scene on the canvas by the current state; legend, minimap and menus follow."""
        w = self.window
        painter = w.canvas.scene_painter
        level = w.level
        self.paint = None
        if painter is not None:
            hierarchy = level.hierarchy if level is not None and level.graph is painter.scene.graph else None
            self.paint = OverlayPaint.of(painter.scene, hierarchy, self.state, painter.geometry)
            painter.overlay = self.paint
            w.canvas.item.update()
            if w.minimap.painter is painter:
                w.minimap.set_painter(painter)  # its picture is drawn again in the new colours
        self.legend.set_overlay(self.paint, w.theme)
        self.place_legend()
        w.commands.refresh()

    def apply_theme(self) -> None:
        self.legend.set_overlay(self.paint, self.window.theme)

    def place_legend(self) -> None:
        self.legend.move(LEGEND_MARGIN, LEGEND_MARGIN)
        self.legend.raise_()

    # -- the panel -----------------------------------------------------------------------------
    def node_html(self, node: Node) -> str:
        """The node's costs and its number in the chosen metric, for the panel."""
        cost = self.report.nodes.get(node.id) if self.report is not None else None
        metric = self.state.metric
        value = metric.values.get(node.id) if metric is not None and node.id not in metric.unknown else None
        pending = self.report is None and (self.computing_costs or self._costs_wanted)
        return properties.costs_html(cost, metric, value, pending=pending)

    def group_html(self, group: Group) -> str:
        """The collapsed group's total in the chosen metric."""
        metric = self.state.metric
        level = self.window.level
        if metric is None or level is None:
            return ""
        nodes = level.graph.nodes
        members = [nodes[k].id for k in level.hierarchy.order[group.start : group.end].tolist()]
        value = metric.group_value(m for m in members if m not in metric.unknown)
        unknown = sum(1 for m in members if m in metric.unknown)
        note = f"{unknown:,} of its {len(members):,} operations unknown, left out" if unknown else ""
        return properties.costs_html(None, metric, value, note=note)

    def _refresh_selection(self) -> None:
        w = self.window
        if w.selected is not None and w.selected[0] in ("node", "group"):
            w.select_ref(*w.selected)

    # -- files ---------------------------------------------------------------------------------
    def _warn(self, title: str, text: str) -> None:
        if self.window.raise_errors:
            raise RuntimeError(text)
        QMessageBox.warning(self.window, title, text)

    def load_dialog(self) -> None:
        folder = str(self.window.settings.value("last_dir", ""))
        path, _ = QFileDialog.getOpenFileName(self.window, "Load node data", folder, "Node data (*.json);;All files (*)")
        if path:
            self.load(path)

    def load(self, path: str | Path) -> list[Metric]:
        """Read a node data ``.json`` (Model Explorer's or netray's) and colour by its first table.

        A file that cannot be used is a message naming it and why, never a traceback.
        """
        model = self.window.model
        if model is None:
            return []
        try:
            metrics = load_node_data(path, model)
        except FormatError as exc:
            self._warn("netray — cannot load node data", str(exc))
            return []
        except Exception as exc:  # a file the reader did not foresee: still one line
            self._warn("netray — cannot load node data", f"{path}: {type(exc).__name__}: {exc}")
            return []
        self.add_metrics(metrics)
        self.choose(metrics[0].name)
        count = sum(len(m.values) for m in metrics)
        self.window.status_label.setText(f"Loaded {len(metrics)} table(s), {count:,} numbers, from {Path(path).name}")
        return metrics

    def export_dialog(self) -> Path | None:
        model = self.window.model
        if model is None or not self.metrics:
            return None
        stem = model.source.stem if model.source is not None else "model"
        folder = Path(str(self.window.settings.value("last_dir", "")) or ".")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export metrics as CSV", str(folder / f"{stem}-metrics.csv"), "CSV (*.csv)")
        return self.export_csv(path) if path else None

    def export_csv(self, path: str | Path) -> Path | None:
        """Every metric as one CSV: a row per node, a column per metric."""
        model = self.window.model
        if model is None:
            return None
        try:
            written = write_csv(self.metrics, model, path)
        except OSError as exc:
            self._warn("netray — cannot export metrics", f"{path}: {exc.strerror or exc}")
            return None
        self.window.status_label.setText(f"Exported {len(self.metrics)} metrics to {Path(path).name}")
        return written

    # -- named dimensions ----------------------------------------------------------------------
    def dimension_names(self) -> list[str]:
        """The named dimensions of the model's inputs, as the file states them."""
        model = self.window.model
        if model is None:
            return []
        if self._dim_names is None:
            from netray.shapes import symbolic_dims

            self._dim_names = list(symbolic_dims(model))
        return self._dim_names

    def dims_dialog(self) -> None:
        names = self.dimension_names()
        if not names:
            QMessageBox.information(self.window, "netray — dimensions", "The model's inputs have no named dimensions.")
            return
        assumed = dict(getattr(self.report, "assumed_dims", {}) or {})
        dialog = DimensionsDialog(names, {**assumed, **self.dims}, self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_dims(dialog.values())

    def apply_dims(self, dims: dict[str, int]) -> None:
        """Give named dimensions numbers: shapes change in place, the graph is labelled and costed again.

        Shapes go back to what the file stated before each change, so a dimension can be changed again.
        """
        from netray.shapes import apply_dims

        w = self.window
        model = w.model
        if model is None:
            return
        self.dimension_names()  # named before the first change takes the names away
        self._restore_stated_types(model)
        try:
            apply_dims(model, dims)
        except FormatError as exc:
            self._warn("netray — cannot set dimensions", str(exc))
            return
        self.dims = dict(dims)
        if w.navigation is not None:
            for level in w.navigation.known.values():
                level.caches.clear()  # labels hold the old shapes
        if w.level is not None:
            w.set_expanded(w.level.expanded, keep_view=True)
        self.start_costs()
        self._refresh_selection()
        w.status_label.setText("Dimensions: " + ", ".join(f"{k} = {v:,}" for k, v in dims.items()))

    def _restore_stated_types(self, model: Model) -> None:
        """Every value's type as the file stated it (remembered before the first change)."""
        if self._stated_types is None:
            values = {id(v): v for g in model.all_graphs() for v in g.values.values()}
            self._stated_types = [(v, v.type) for v in values.values()]
            return
        for value, stated in self._stated_types:
            value.type = stated
