"""The Metric menu and the toolbar's "Colour by" box: which metric colours the graph, on which scale.

The menu lists "None" and every metric of the open model (costs, loaded node data,
metrics added by others), then the scale (linear or log) and the colours
(sequential or diverging), then loading node data and exporting the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

NONE_LABEL = "None"


class MetricControls:
    """The Metric menu's items and the toolbar's metric box, kept true to the window's overlay."""

    def __init__(self, window: MainWindow, menu: QMenu, load: QAction, export: QAction) -> None:
        self.window = window
        self.menu = menu
        self.metric_group = QActionGroup(window)
        self.metric_group.setExclusive(True)
        self.metric_actions: dict[str | None, QAction] = {}
        self._listed: list[str] = []
        self.none = self._metric_action(None)
        menu.addAction(self.none)
        self._metrics_end = menu.addSeparator()
        self.linear = self._choice("&Linear Scale", lambda: window.overlays.set_log(False))
        self.log = self._choice("L&og Scale", lambda: window.overlays.set_log(True))
        scale_group = QActionGroup(window)
        for a in (self.linear, self.log):
            scale_group.addAction(a)
        menu.addSeparator()
        self.sequential = self._choice("&Sequential Colours", lambda: window.overlays.set_diverging(False))
        self.diverging = self._choice("&Diverging Colours (around 0)", lambda: window.overlays.set_diverging(True))
        colour_group = QActionGroup(window)
        for a in (self.sequential, self.diverging):
            colour_group.addAction(a)
        menu.addSeparator()
        menu.addAction(load)
        menu.addAction(export)
        self.combo = QComboBox()
        self.combo.setToolTip("Colour the graph by a number per node")
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.activated.connect(self._combo_chosen)

    def add_to_toolbar(self, bar: QToolBar) -> None:
        bar.addSeparator()
        label = QLabel(" Colour by ")
        bar.addWidget(label)
        bar.addWidget(self.combo)

    def _metric_action(self, name: str | None) -> QAction:
        action = QAction(name if name is not None else NONE_LABEL, self.window)
        action.setCheckable(True)
        action.triggered.connect(lambda _=False, n=name: self.window.overlays.choose(n))
        self.metric_group.addAction(action)
        self.metric_actions[name] = action
        return action

    def _choice(self, text: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self.window)
        action.setCheckable(True)
        action.triggered.connect(lambda _=False: slot())
        self.menu.addAction(action)
        return action

    def _combo_chosen(self, index: int) -> None:
        data = self.combo.itemData(index)
        self.window.overlays.choose(data if isinstance(data, str) else None)

    def refresh(self) -> None:
        """Metrics listed, the chosen one checked, scale and colours enabled only with a metric."""
        overlays = self.window.overlays
        metrics = overlays.metrics
        names = [m.name for m in metrics]
        if names != self._listed:
            for name in self._listed:
                action = self.metric_actions.pop(name)
                self.menu.removeAction(action)
                self.metric_group.removeAction(action)
                action.deleteLater()
            for metric in metrics:
                action = self._metric_action(metric.name)
                action.setToolTip(metric.description or metric.name)
                self.menu.insertAction(self._metrics_end, action)
            self.menu.setToolTipsVisible(True)
            self.combo.blockSignals(True)
            self.combo.clear()
            self.combo.addItem(NONE_LABEL, None)
            for metric in metrics:
                self.combo.addItem(f"{metric.name} ({metric.unit})" if metric.unit else metric.name, metric.name)
            self.combo.blockSignals(False)
            self._listed = names
        state = overlays.state
        chosen = state.metric.name if state.metric is not None else None
        self.metric_actions.get(chosen, self.none).setChecked(True)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(self.combo.findData(chosen) if chosen is not None else 0, 0))
        self.combo.blockSignals(False)
        if overlays.computing_costs and not metrics:
            self.combo.setToolTip("Computing costs…")
        else:
            self.combo.setToolTip("Colour the graph by a number per node")
        on = state.metric is not None
        for action in (self.linear, self.log, self.sequential, self.diverging):
            action.setEnabled(on)
        (self.log if state.log else self.linear).setChecked(True)
        (self.diverging if state.diverging else self.sequential).setChecked(True)
