"""The main window: menus, canvas, docks, and the state that ties them together.

The window owns the open model and the navigation stack; it asks a background
:class:`LayoutJob` for a Scene whenever the expansion or the graph changes and
hands the result to the canvas, minimap and panels.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from PyQt6.QtCore import QRectF, QSettings, Qt
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QResizeEvent
from PyQt6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from netray.errors import FormatError
from netray.ir import Model, Node, Tensor, Value
from netray.plugins import get_manager
from netray.scene import ItemKind, Scene
from netray_viewer import properties
from netray_viewer.breadcrumbs import Breadcrumbs
from netray_viewer.canvas import GraphCanvas
from netray_viewer.geometry import SceneGeometry
from netray_viewer.jobs import Jobs
from netray_viewer.minimap import Minimap
from netray_viewer.navigation import GraphLevel, Navigation
from netray_viewer.search import SearchHit, SearchPanel
from netray_viewer.sidebar import PropertiesPanel
from netray_viewer.tensors import TensorTree
from netray_viewer.theme import Theme, apply_application_palette, theme_named

MAX_RECENT = 10
FOCUS_ZOOM = 0.9  # zoom a search result or jump target is shown at, at least


class MainWindow(QMainWindow):
    """One model per window."""

    def __init__(
        self,
        expand: str = "auto",
        settings: QSettings | None = None,
        raise_errors: bool = False,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.expand_mode = expand
        self.settings = settings if settings is not None else QSettings("netray", "netray")
        self.raise_errors = raise_errors  # snapshot mode: errors go to the caller, not a dialog
        self.theme: Theme = theme_named(theme or str(self.settings.value("theme", "light")))
        # Before any widget exists: restyling the finished window costs ~20 ms at start-up.
        apply_application_palette(self.theme)
        self.model: Model | None = None
        self.navigation: Navigation | None = None
        self.selected: tuple[str, Any] | None = None  # ("node"|"value"|"group", ref)
        self.layout_error: str | None = None
        self._after_layout: Callable[[], None] | None = None
        self._fit_after = False
        self.open_error: FormatError | None = None
        self.jobs = Jobs(self)

        self.canvas = GraphCanvas(self.theme)
        self.breadcrumbs = Breadcrumbs()
        self.minimap = Minimap(self.canvas)
        # Structure a plugin inferred rather than read (GGUF) says so above the graph.
        self.inferred_banner = QLabel()
        self.inferred_banner.setWordWrap(True)
        self.inferred_banner.setStyleSheet("QLabel { background: #fff3c4; color: #5a4500; padding: 4px 8px; }")
        self.inferred_banner.setVisible(False)
        graph_page = QWidget()
        column = QVBoxLayout(graph_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.breadcrumbs)
        column.addWidget(self.inferred_banner)
        column.addWidget(self.canvas, 1)
        # A model's tensors by module path: the whole view of a weights-only model.
        self.tensors = TensorTree()
        self.pages = QStackedWidget()
        self.pages.addWidget(graph_page)
        self.pages.addWidget(self.tensors)
        self.setCentralWidget(self.pages)
        self.breadcrumbs.set_path([])

        self.panel = PropertiesPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel)
        self.search = SearchPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.search)
        self.search.hide()

        self.status_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        status = self.statusBar()
        assert status is not None
        status.addWidget(self.status_label, 1)
        status.addPermanentWidget(self.progress)

        self._build_menus()
        self._connect()
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self._theme_canvas()
        self._update_title()

    # -- construction -----------------------------------------------------------------
    def _action(self, menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    @staticmethod
    def _menu(parent: QMenuBar | QMenu | None, title: str) -> QMenu:
        assert parent is not None
        menu = parent.addMenu(title)
        assert menu is not None
        return menu

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = self._menu(bar, "&File")
        self._action(file_menu, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = self._menu(file_menu, "Recent files")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self._refresh_recent_menu()

        view = self._menu(bar, "&View")
        self._action(view, "Fit to window", self.canvas.fit, "F")
        self._action(view, "Zoom in", lambda: self.canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._action(view, "Zoom out", lambda: self.canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        view.addSeparator()
        self._action(view, "Expand all groups", self.expand_all)
        self._action(view, "Collapse all groups", self.collapse_all)
        self._action(view, "Expand to depth…", self.ask_expand_depth)
        view.addSeparator()
        self.tensors_action = self._action(view, "Tensors", self.toggle_tensors, "Ctrl+T")
        self.tensors_action.setCheckable(True)
        self._action(view, "Search…", self.search.focus, QKeySequence.StandardKey.Find)
        view.addAction(self.panel.toggleViewAction())
        view.addSeparator()
        self._action(view, "Light theme", lambda: self.apply_theme("light"))
        self._action(view, "Dark theme", lambda: self.apply_theme("dark"))

        go = self._menu(bar, "&Go")
        self._action(go, "Back to parent graph", self.go_up, "Backspace")
        self._action(go, "Cancel layout", self.cancel_layout, "Esc")

    def _connect(self) -> None:
        c = self.canvas
        c.item_clicked.connect(self.on_item_clicked)
        c.item_double_clicked.connect(self.on_item_double_clicked)
        c.marker_clicked.connect(self.on_marker_clicked)
        c.edge_clicked.connect(self.on_edge_clicked)
        c.empty_clicked.connect(self.show_model_properties)
        c.view_changed.connect(self._sync_minimap)
        c.resized.connect(self._place_minimap)
        self.minimap.centre_requested.connect(lambda x, y: self.canvas.centre_on(x, y))
        self.breadcrumbs.level_chosen.connect(self.go_to_level)
        self.search.chosen.connect(self.reveal_hit)
        self.panel.link_activated.connect(self.follow_link)
        self.tensors.tensor_chosen.connect(self.show_tensor)
        self.tensors.module_chosen.connect(lambda node: self.panel.show_html(properties.module_html(node)))
        j = self.jobs
        j.opened.connect(self._on_opened)
        j.open_failed.connect(self._on_open_failed)
        j.stage.connect(self.status_label.setText)
        j.scene_ready.connect(self._on_scene)
        j.progress.connect(self._on_progress)
        j.layout_failed.connect(self._on_layout_failed)
        j.layout_cancelled.connect(lambda: self._show_idle("Layout cancelled"))

    # -- files ------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", str(self.settings.value("last_dir", "")))
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path, block: bool = False, timeout_s: float | None = None) -> bool:
        """Open ``path`` in the background; a FormatError becomes a message (raised in snapshot mode).

        With ``block`` wait until the model is read and laid out; returns whether it opened.
        """
        path = Path(path)
        self.open_error = None
        self.jobs.open(path, self.expand_mode)
        self._show_busy(f"Opening {path.name}…")
        if not block:
            return True
        if not self.wait_until_idle(timeout_s):
            return False
        if self.open_error is not None and self.raise_errors:
            raise self.open_error
        return self.open_error is None

    def _on_opened(self, path: Path, navigation: Navigation) -> None:
        self.model = navigation.model
        self.navigation = navigation
        self.selected = None
        self._remember(path)
        self._update_title()
        self.tensors.set_model(self.model)
        self.show_tensors(not navigation.has_graph)
        if navigation.has_graph:
            self._show_level(fit=True)
        else:
            self.canvas.set_scene(None)
            count = sum(1 for _ in self.model.all_tensors())
            self._show_idle(f"{count:,} tensors, no operations: the file holds weights only")
        self.show_model_properties()
        self.canvas.setFocus()  # +/-, arrows and F work at once

    def _on_open_failed(self, exc: FormatError) -> None:
        self.open_error = exc
        self._show_idle("Could not open the file")
        if not self.raise_errors:
            QMessageBox.warning(self, "netray — cannot open file", str(exc))

    def _remember(self, path: Path) -> None:
        recent = [str(p) for p in (self.settings.value("recent", []) or []) if str(p) != str(path.resolve())]
        recent.insert(0, str(path.resolve()))
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.settings.setValue("last_dir", str(path.resolve().parent))
        self._refresh_recent_menu()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", []) or []
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self._action(self.recent_menu, path, self._opener(path))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _opener(self, path: str) -> Callable[[], bool]:
        return lambda: self.open_file(path)

    def dragEnterEvent(self, a0: QDragEnterEvent | None) -> None:
        if a0 is not None and a0.mimeData() is not None and a0.mimeData().hasUrls():  # type: ignore[union-attr]
            a0.acceptProposedAction()

    def dropEvent(self, a0: QDropEvent | None) -> None:
        if a0 is None or a0.mimeData() is None:
            return
        urls = a0.mimeData().urls()  # type: ignore[union-attr]
        local = [u.toLocalFile() for u in urls if u.isLocalFile()]
        if local:
            a0.acceptProposedAction()
            self.open_file(local[0])

    def _update_title(self) -> None:
        if self.model is not None and self.model.source is not None:
            self.setWindowTitle(f"{self.model.source.name} — netray")
        else:
            self.setWindowTitle("netray")

    # -- layout -----------------------------------------------------------------------
    @property
    def level(self) -> GraphLevel | None:
        if self.navigation is None or not self.navigation.levels:
            return None
        return self.navigation.current

    @property
    def scene(self) -> Scene | None:
        return self.canvas.scene_data

    @property
    def busy(self) -> bool:
        """A file is being read or a layout computed."""
        return self.jobs.busy

    def wait_until_idle(self, timeout_s: float | None = None) -> bool:
        """Process events until no file is being read and no layout is pending (snapshot, tests)."""
        return self.jobs.wait_until_idle(timeout_s)

    def request_layout(self, fit: bool = False, after: Callable[[], None] | None = None) -> None:
        """Lay out the current level in the background; ``after`` runs once the scene is shown."""
        level = self.level
        if level is None:
            return
        self._after_layout = after
        self._fit_after = fit
        self.layout_error = None
        self.jobs.layout(level.cache, level.expanded)
        self._show_busy("Laying out… (Esc cancels)")

    def cancel_layout(self) -> None:
        """Esc: stop the layout in progress, or stop waiting for a file being read."""
        if self.jobs.cancel() == "open":
            self._show_idle("Opening cancelled")

    def _show_busy(self, message: str) -> None:
        self.status_label.setText(message)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)

    def _show_idle(self, message: str) -> None:
        self.progress.setVisible(False)
        self.status_label.setText(message)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_scene(self, scene: Scene, geometry: SceneGeometry) -> None:
        self._show_idle(f"{len(scene.graph.nodes):,} operations, {scene.size:,} boxes shown")
        self.canvas.set_scene(scene, fit=self._fit_after, geometry=geometry)
        self.minimap.set_painter(self.canvas.scene_painter)
        self._place_minimap()
        self.search.set_graph(scene.graph)
        self._restore_selection()
        after, self._after_layout = self._after_layout, None
        if after is not None:
            after()

    def _on_layout_failed(self, message: str) -> None:
        self.layout_error = message
        self._show_idle(message)
        if not self.raise_errors:
            QMessageBox.warning(self, "netray — layout failed", message)

    def _show_level(self, fit: bool, after: Callable[[], None] | None = None) -> None:
        nav = self.navigation
        if nav is None or not nav.levels:
            return
        self.breadcrumbs.set_path([lvl.label for lvl in nav.levels])
        inferred = nav.current.graph.inferred
        self.inferred_banner.setText(f"<b>Structure inferred:</b> {escape(inferred)}" if inferred else "")
        self.inferred_banner.setVisible(bool(inferred))
        self.request_layout(fit=fit, after=after)

    # -- tensors ------------------------------------------------------------------------
    def show_tensors(self, show: bool) -> None:
        """The tensor tree (``True``) or the graph in the central area."""
        has_graph = self.navigation is not None and self.navigation.has_graph
        show = show or not has_graph
        self.pages.setCurrentWidget(self.tensors if show else self.pages.widget(0))
        self.tensors_action.setChecked(show)
        self.minimap.setVisible(not show)

    def toggle_tensors(self) -> None:
        self.show_tensors(self.pages.currentWidget() is not self.tensors)

    def show_tensor(self, name: str, tensor: Tensor) -> None:
        self.panel.show_html(properties.tensor_html(name, tensor), tensors=[(name, tensor)])

    # -- groups -------------------------------------------------------------------------
    def set_expanded(self, expanded: frozenset[str], after: Callable[[], None] | None = None, fit: bool = False) -> None:
        level = self.level
        if level is None:
            return
        level.expanded = frozenset(expanded)
        self.request_layout(fit=fit, after=after)

    def toggle_group(self, group: Any, expand: bool) -> None:
        level = self.level
        if level is None or group is level.hierarchy.root:
            return  # the root frames the whole graph; it never collapses
        expanded = set(level.expanded)
        if expand:
            expanded.add(group.id)
        else:
            expanded.discard(group.id)

        def keep_in_view() -> None:
            self._select_ref("group", group)
            i = self.scene.item_of(group) if self.scene is not None else None
            if i is not None and self.scene is not None:
                s = self.scene
                self.canvas.centre_on(float(s.x[i] + s.w[i] / 2), float(s.y[i] + min(s.h[i], 400) / 2))

        self.set_expanded(frozenset(expanded), after=keep_in_view)

    def expand_all(self) -> None:
        if self.level is not None:
            self.set_expanded(frozenset(self.level.hierarchy.all_group_ids()), fit=True)

    def collapse_all(self) -> None:
        if self.level is not None:
            self.set_expanded(frozenset(self.level.hierarchy.expanded_to_depth(0)), fit=True)

    def expand_to_depth(self, depth: int) -> None:
        if self.level is not None:
            self.set_expanded(frozenset(self.level.hierarchy.expanded_to_depth(depth)), fit=True)

    def ask_expand_depth(self) -> None:
        depth, ok = QInputDialog.getInt(self, "Expand to depth", "Depth:", 1, 0, 64)
        if ok:
            self.expand_to_depth(depth)

    # -- subgraphs ------------------------------------------------------------------------
    def enter_subgraph(self, node: Node, index: int = 0) -> None:
        nav = self.navigation
        if nav is None or not (0 <= index < len(node.subgraphs)):
            return
        nav.current.view = self.canvas.view_box.viewRect()
        nav.enter(node, index)
        self.selected = None
        self._show_level(fit=True, after=self.show_model_properties)

    def go_to_level(self, depth: int) -> None:
        nav = self.navigation
        if nav is None or depth >= len(nav.levels) - 1:
            return
        left = nav.levels[depth + 1].via
        level = nav.back_to(depth)
        view = level.view
        self.selected = ("node", left) if left is not None else None

        def restore() -> None:
            if isinstance(view, QRectF):
                self.canvas.view_box.setRange(view, padding=0)

        self._show_level(fit=view is None, after=restore)

    def go_up(self) -> None:
        if self.navigation is not None and len(self.navigation.levels) > 1:
            self.go_to_level(len(self.navigation.levels) - 2)

    # -- selection and panels ---------------------------------------------------------------
    def on_item_clicked(self, i: int) -> None:
        scene = self.scene
        if scene is None:
            return
        ref = scene.ref[i]
        kind = scene.kind[i]
        if kind == ItemKind.NODE:
            self._select_ref("node", ref)
        elif kind in (ItemKind.GROUP, ItemKind.FRAME):
            self._select_ref("group", ref)
        else:
            self._select_ref("value", ref)

    def on_item_double_clicked(self, i: int) -> None:
        scene = self.scene
        if scene is None:
            return
        ref = scene.ref[i]
        kind = scene.kind[i]
        if kind == ItemKind.GROUP:
            self.toggle_group(ref, expand=True)
        elif kind == ItemKind.FRAME:
            self.toggle_group(ref, expand=False)
        elif kind == ItemKind.NODE and ref.subgraphs:
            self.enter_subgraph(ref, 0)

    def on_marker_clicked(self, i: int) -> None:
        scene = self.scene
        if scene is not None:
            self.toggle_group(scene.ref[i], expand=scene.kind[i] == ItemKind.GROUP)

    def on_edge_clicked(self, j: int) -> None:
        scene = self.scene
        if scene is None:
            return
        value = scene.edge_value[j] if j < len(scene.edge_value) else None
        if value is not None:
            self._select_ref("value", value)
        else:
            self.canvas.select(edge=j)

    def _select_ref(self, what: str, ref: Any) -> None:
        """Select a node, value (edge) or group: highlight it and fill the panel."""
        self.selected = (what, ref)
        self._restore_selection()
        if what == "node":
            info = None
            if self.model is not None:
                try:
                    info = get_manager().operator_info(self.model.format, ref.domain, ref.op)
                except FormatError:
                    info = None
            self.panel.show_html(properties.node_html(ref, info), node=ref)
        elif what == "value":
            self.panel.show_html(properties.value_html(ref))
        else:
            self.panel.show_html(properties.group_html(ref))

    def _restore_selection(self) -> None:
        """Highlight the selected thing in the current scene (after a relayout too)."""
        scene = self.scene
        if scene is None or self.selected is None:
            self.canvas.select()
            return
        what, ref = self.selected
        if what == "value":
            edge = next((j for j, v in enumerate(scene.edge_value) if v is ref), None)
            self.canvas.select(item=scene.item_of(ref) if edge is None else None, edge=edge)
        else:
            self.canvas.select(item=scene.item_of(ref))

    def show_model_properties(self) -> None:
        self.selected = None
        self.canvas.select()
        if self.model is not None:
            self.panel.show_html(properties.model_html(self.model, self.level.graph if self.level is not None else None))

    # -- search and links ---------------------------------------------------------------------
    def reveal_node(self, node: Node, value: Value | None = None) -> None:
        """Expand the node's groups, lay out, centre on it and select it (or its edge)."""
        level = self.level
        if level is None:
            return
        expanded = frozenset(level.hierarchy.reveal(level.expanded, node.index))

        def focus() -> None:
            scene = self.scene
            if scene is None:
                return
            if value is not None:
                self._select_ref("value", value)
            else:
                self._select_ref("node", node)
            i = scene.item_of(node)
            if i is not None:
                self.canvas.centre_on(float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + scene.h[i] / 2), FOCUS_ZOOM)

        if expanded == level.expanded and self.scene is not None and not self.busy:
            focus()
        else:
            self.set_expanded(expanded, after=focus)

    def reveal_hit(self, hit: SearchHit) -> None:
        if hit.node is not None:
            self.reveal_node(hit.node, hit.value)
        elif hit.value is not None:
            self._select_ref("value", hit.value)

    def follow_link(self, link: str) -> None:
        """``node:<id>`` reveals a node of the graph on screen; ``subgraph:<id>:<k>`` opens a subgraph."""
        level = self.level
        if level is None or self.model is None:
            return
        scheme, _, rest = link.partition(":")
        target, k = rest.rpartition(":")[::2] if scheme == "subgraph" else (rest, "0")
        node = self.model.node(unquote(target))
        in_view = node is not None and node.index < len(level.graph.nodes) and level.graph.nodes[node.index] is node
        if node is None or not in_view or not k.isdigit():
            self.status_label.setText(f"cannot follow link {unquote(link)}: not in the graph on screen")
        elif scheme == "node":
            self.reveal_node(node)
        elif scheme == "subgraph":
            self.enter_subgraph(node, int(k))

    # -- theme, minimap, window events ------------------------------------------------------------
    def apply_theme(self, name: str) -> None:
        self.theme = theme_named(name)
        self.settings.setValue("theme", self.theme.name)
        apply_application_palette(self.theme)
        self._theme_canvas()

    def _theme_canvas(self) -> None:
        self.canvas.set_theme(self.theme)
        self.minimap.set_painter(self.canvas.scene_painter)
        self._place_minimap()

    def _sync_minimap(self) -> None:
        self.minimap.set_view_rect(self.canvas.view_box.viewRect())

    def _place_minimap(self) -> None:
        m = self.minimap
        m.move(max(self.canvas.width() - m.width() - 12, 0), max(self.canvas.height() - m.height() - 12, 0))
        m.raise_()
        self._sync_minimap()

    def resizeEvent(self, a0: QResizeEvent | None) -> None:
        super().resizeEvent(a0)
        self._place_minimap()

    def showEvent(self, a0: Any) -> None:
        super().showEvent(a0)
        self._place_minimap()

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        self.jobs.stop_all()
        super().closeEvent(a0)
