"""The window's menus, toolbar and shortcuts, as actions on a :class:`~netray_viewer.window.MainWindow`.

File: Open, Recent files, Compare… (the split view), Export (PNG, SVG, PDF of what the window shows), Copy image,
Load node data, Export metrics as CSV. Edit: Copy name, Find. View: fit and zoom,
groups, named dimensions, the View settings (names, attributes, weights, edge shapes,
constants folded, direction, theme), tensors and panels. Metric: what colours the
graph (:mod:`netray_viewer.metric_menu`). Run: Run… (inputs and options, then in the
background), Cancel Run, and the places a run found. Go: Back and Forward (Alt+Left/Right,
mouse buttons 4 and 5), parent graph, First NaN, First Divergence, cancel layout. The
toolbar carries Open, Back, Forward, Fit, Search, Export, Run and the metric box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QMenu, QMenuBar, QStyle, QToolBar, QToolButton

from netray_viewer.metric_menu import MetricControls
from netray_viewer.view_settings import ViewSettings

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

EXPORT_FORMATS = (("PNG image…", ".png"), ("SVG drawing…", ".svg"), ("PDF document…", ".pdf"))
# The View settings shown as checkable items: (label, ViewSettings field).
TOGGLES = (
    ("Show &Names", "show_names"),
    ("Show &Attributes", "show_attributes"),
    ("Show &Weights", "show_weights"),
    ("Show &Edge Shapes", "show_edge_shapes"),
    ("&Fold Constants into Their Users", "fold_constants"),
)
DIRECTIONS = (("Top to Bottom", "TB"), ("Left to Right", "LR"))
THEMES = (("Light", "light"), ("Dark", "dark"), ("Follow the System", "system"))


def _menu(parent: QMenuBar | QMenu | None, title: str) -> QMenu:
    assert parent is not None
    menu = parent.addMenu(title)
    assert menu is not None
    return menu


class WindowActions:
    """Every action of the window, built once; :meth:`refresh` keeps enabled and checked states true."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.toggles: dict[str, QAction] = {}
        self.directions: dict[str, QAction] = {}
        self.themes: dict[str, QAction] = {}
        self._build_menus()
        self.toolbar = self._build_toolbar()
        self.refresh()

    def action(self, text: str, slot: Callable[[], Any], shortcut: Any = None, menu: QMenu | None = None) -> QAction:
        action = QAction(text, self.window)
        if isinstance(shortcut, (list, tuple)):
            # Platform keys (StandardKey.Back) may repeat ours (Alt+Left on Linux): each sequence once.
            sequences = {QKeySequence(s).toString(): QKeySequence(s) for s in shortcut}
            action.setShortcuts([k for k in sequences.values() if not k.isEmpty()])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        if menu is not None:
            menu.addAction(action)
        self.window.addAction(action)  # shortcuts work while the menu bar is hidden too
        return action

    def _build_menus(self) -> None:
        w = self.window
        bar = w.menuBar()
        file_menu = _menu(bar, "&File")
        self.open = self.action("&Open…", w.open_dialog, QKeySequence.StandardKey.Open, file_menu)
        self.recent_menu = _menu(file_menu, "Recent files")
        self.compare = self.action("&Compare…", w.compare_dialog, None, file_menu)
        self.compare.setToolTip("Open a second model beside this one (A) and see what changed")
        file_menu.addSeparator()
        self.export_menu = _menu(file_menu, "&Export")
        self.exports = {fmt: self.action(text, self._exporter(fmt), None, self.export_menu) for text, fmt in EXPORT_FORMATS}
        self.exports[".png"].setShortcut(QKeySequence("Ctrl+E"))
        self.copy_image = self.action("Copy &Image", w.copy_image, "Ctrl+Shift+C", file_menu)
        file_menu.addSeparator()
        self.load_node_data = self.action("Load &Node Data…", w.overlays.load_dialog, None, file_menu)
        self.export_metrics = self.action("Export &Metrics as CSV…", w.overlays.export_dialog, None, file_menu)
        file_menu.addSeparator()
        self.action("&Quit", w.close, QKeySequence.StandardKey.Quit, file_menu)

        edit = _menu(bar, "&Edit")
        self.copy_name = self.action("&Copy Name", w.copy_selected_name, None, edit)
        # Ctrl+C copies the selected node's name while the graph has the focus; in the panel or the
        # search field it copies their selected text, as usual.
        self.copy_name.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.copy_name.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        w.canvas.addAction(self.copy_name)
        self.find = self.action("&Find…", w.search.focus, QKeySequence.StandardKey.Find, edit)

        view = _menu(bar, "&View")
        self.fit = self.action("&Fit to Window", w.canvas.fit, "F", view)
        self.action("Zoom &In", lambda: w.canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn, view)
        self.action("Zoom &Out", lambda: w.canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut, view)
        view.addSeparator()
        self.action("E&xpand All Groups", w.expand_all, "Ctrl+Shift+E", view)
        self.action("&Collapse All Groups", w.collapse_all, "Ctrl+Shift+W", view)
        self.action("Expand to &Depth…", w.ask_expand_depth, None, view)
        view.addSeparator()
        self.dimensions = self.action("Di&mensions…", w.overlays.dims_dialog, None, view)
        view.addSeparator()
        for text, name in TOGGLES:
            toggle = self.action(text, self._toggler(name), None, view)
            toggle.setCheckable(True)
            self.toggles[name] = toggle
        direction_menu = _menu(view, "&Layout Direction")
        self._choices(direction_menu, DIRECTIONS, self.directions, "direction")
        theme_menu = _menu(view, "&Theme")
        self._choices(theme_menu, THEMES, self.themes, "theme")
        view.addSeparator()
        self.tensors = self.action("&Tensors", w.toggle_tensors, "Ctrl+T", view)
        self.tensors.setCheckable(True)
        view.addAction(w.panel.toggleViewAction())
        self.toolbar_toggle = QAction("Tool&bar", w)
        self.toolbar_toggle.setCheckable(True)
        view.addAction(self.toolbar_toggle)

        self.metric_controls = MetricControls(w, _menu(bar, "&Metric"), self.load_node_data, self.export_metrics)

        run = _menu(bar, "&Run")
        self.run = self.action("&Run…", w.runs.dialog, "Ctrl+R", run)
        self.run.setToolTip("Run the model once: values, first NaN, gradients, comparisons painted on the graph")
        self.cancel_run = self.action("&Cancel Run", w.runs.cancel, None, run)
        run.addSeparator()
        self.first_nan = QAction("Go to First &NaN", w)
        self.first_nan.triggered.connect(lambda _=False: w.runs.go_first_nonfinite())
        self.first_divergence = QAction("Go to First &Divergence", w)
        self.first_divergence.triggered.connect(lambda _=False: w.runs.go_first_divergence())
        run.addAction(self.first_nan)
        run.addAction(self.first_divergence)

        go = _menu(bar, "&Go")
        self.back = self.action("&Back", w.go_back, ["Alt+Left", QKeySequence.StandardKey.Back], go)
        self.forward = self.action("&Forward", w.go_forward, ["Alt+Right", QKeySequence.StandardKey.Forward], go)
        self.up = self.action("Back to &Parent Graph", w.go_up, "Backspace", go)
        go.addSeparator()
        go.addAction(self.first_nan)
        go.addAction(self.first_divergence)
        go.addSeparator()
        self.action("&Cancel Layout", w.cancel_layout, "Esc", go)

    def _choices(self, menu: QMenu, choices: tuple[tuple[str, str], ...], into: dict[str, QAction], setting: str) -> None:
        group = QActionGroup(self.window)
        group.setExclusive(True)
        for text, value in choices:
            choice = self.action(text, self._setter(setting, value), None, menu)
            choice.setCheckable(True)
            group.addAction(choice)
            into[value] = choice

    def _build_toolbar(self) -> QToolBar:
        w = self.window
        style = w.style()
        assert style is not None
        icon = style.standardIcon
        bar = QToolBar("Toolbar", w)
        bar.setObjectName("toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.open.setIcon(icon(QStyle.StandardPixmap.SP_DialogOpenButton))
        self.back.setIcon(icon(QStyle.StandardPixmap.SP_ArrowBack))
        self.forward.setIcon(icon(QStyle.StandardPixmap.SP_ArrowForward))
        self.fit.setIcon(icon(QStyle.StandardPixmap.SP_TitleBarMaxButton))
        self.find.setIcon(icon(QStyle.StandardPixmap.SP_FileDialogContentsView))
        for a in (self.open, self.back, self.forward, self.fit, self.find):
            bar.addAction(a)
        export = QToolButton(bar)
        export.setText("Export")
        export.setIcon(icon(QStyle.StandardPixmap.SP_DialogSaveButton))
        export.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        export.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        export.setMenu(self.export_menu)
        self.export_button = export
        bar.addWidget(export)
        self.run.setIcon(icon(QStyle.StandardPixmap.SP_MediaPlay))
        bar.addAction(self.run)
        self.metric_controls.add_to_toolbar(bar)
        w.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar_toggle.setChecked(True)
        self.toolbar_toggle.toggled.connect(bar.setVisible)
        return bar

    def _exporter(self, fmt: str) -> Callable[[], None]:
        def export() -> None:
            self.window.export_dialog(fmt)

        return export

    def _toggler(self, name: str) -> Callable[[], None]:
        return lambda: self.window.change_view(**{name: self.toggles[name].isChecked()})

    def _setter(self, name: str, value: str) -> Callable[[], None]:
        return lambda: self.window.change_view(**{name: value})

    def refresh(self) -> None:
        """Enabled and checked states from the window's state."""
        w = self.window
        settings: ViewSettings = w.view_settings
        for name, toggle in self.toggles.items():
            toggle.setChecked(bool(getattr(settings, name)))
        self.directions[settings.direction].setChecked(True)
        self.themes[settings.theme].setChecked(True)
        self.back.setEnabled(w.history.can_go_back)
        self.forward.setEnabled(w.history.can_go_forward)
        has_scene = w.scene is not None
        for a in (*self.exports.values(), self.copy_image):
            a.setEnabled(has_scene)
        self.export_button.setEnabled(has_scene)
        self.up.setEnabled(w.navigation is not None and len(w.navigation.levels) > 1)
        has_graph = w.model is not None and w.navigation is not None and w.navigation.has_graph
        self.load_node_data.setEnabled(has_graph)
        self.compare.setEnabled(has_graph)
        self.dimensions.setEnabled(has_graph)
        self.export_metrics.setEnabled(has_graph and bool(w.overlays.metrics))
        runs = w.runs
        result = runs.result
        self.run.setEnabled(runs.can_run)
        self.cancel_run.setEnabled(runs.running)
        self.first_nan.setEnabled(result is not None and result.first_nonfinite is not None)
        self.first_divergence.setEnabled(result is not None and result.first_divergence is not None)
        self.metric_controls.refresh()
