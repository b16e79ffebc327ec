"""The main window: canvas, docks and the state that ties them together.

The window owns the open model, the navigation stack (which graph, which groups
expanded), the history of places for Back and Forward, and the View settings. It
asks a background :class:`~netray_viewer.jobs.Jobs` for a Scene whenever the
expansion, the graph or a layout setting changes and hands the result to the canvas,
minimap and panels. Menus and the toolbar are :mod:`netray_viewer.menus`; pictures
:mod:`netray_viewer.window_export`; the right-click menu :mod:`netray_viewer.context_menu`.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QEvent, QObject, QPoint, QRectF, QSettings, Qt
from PyQt6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QMouseEvent, QResizeEvent
from PyQt6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from netray.errors import FormatError
from netray.hierarchy import Group
from netray.ir import Model, Node, Tensor, Value
from netray.scene import ItemKind, Scene
from netray_viewer import context_menu, properties, window_export
from netray_viewer.appearance import Appearance, theme_for
from netray_viewer.breadcrumbs import Breadcrumbs
from netray_viewer.canvas import GraphCanvas
from netray_viewer.geometry import SceneGeometry
from netray_viewer.history import History
from netray_viewer.inspector import Inspector
from netray_viewer.jobs import Jobs
from netray_viewer.menus import WindowActions
from netray_viewer.minimap import Minimap
from netray_viewer.navigation import GraphLevel, Navigation
from netray_viewer.overlays import Overlays
from netray_viewer.places import Places
from netray_viewer.recent import RecentFiles
from netray_viewer.runs import Runs
from netray_viewer.search import SearchHit, SearchPanel
from netray_viewer.sidebar import PropertiesPanel
from netray_viewer.tensors import TensorTree
from netray_viewer.theme import Theme, apply_application_palette
from netray_viewer.view_settings import ViewSettings


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
        self.view_settings = ViewSettings.load(self.settings, theme)
        self.theme: Theme = theme_for(self.view_settings.theme)
        # Before any widget exists: restyling the finished window costs ~20 ms at start-up.
        apply_application_palette(self.theme)
        self.model: Model | None = None
        self.navigation: Navigation | None = None
        self.selected: tuple[str, Any] | None = None  # ("node"|"value"|"group", ref)
        self.layout_error: str | None = None
        self.places = Places(self)
        self.appearance = Appearance(self)
        self.inspector = Inspector(self)
        self._after_layout: Callable[[], None] | None = None
        self._fit_after = False
        self.open_error: FormatError | None = None
        self.jobs = Jobs(self)

        self.canvas = GraphCanvas(self.theme)
        self.breadcrumbs = Breadcrumbs()
        self.minimap = Minimap(self.canvas)
        self.overlays = Overlays(self)  # metrics that colour the graph, and their legend
        # Structure a plugin inferred rather than read (GGUF) says so above the graph.
        self.inferred_banner = QLabel()
        self.inferred_banner.setWordWrap(True)
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
        self.panel.set_docs_open(_truthy(self.settings.value("panel/docs_open", False)))
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

        self.runs = Runs(self)  # Run…: the run in progress and the last one's results
        self.commands = WindowActions(self)
        self.recent = RecentFiles(self.settings, self.commands.recent_menu, self.open_file)
        self._connect()
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.appearance.style_widgets()
        self._update_title()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # mouse buttons 4 and 5 anywhere in the window: Back, Forward

    # -- construction -----------------------------------------------------------------
    def _connect(self) -> None:
        c = self.canvas
        c.item_clicked.connect(self.select_item)
        c.item_double_clicked.connect(self.on_item_double_clicked)
        c.marker_clicked.connect(self.on_marker_clicked)
        c.edge_clicked.connect(self.on_edge_clicked)
        c.empty_clicked.connect(self.show_model_properties)
        c.context_requested.connect(self.show_context_menu)
        c.view_changed.connect(self._sync_minimap)
        c.resized.connect(self.place_minimap)
        self.minimap.centre_requested.connect(lambda x, y: self.canvas.centre_on(x, y))
        self.breadcrumbs.level_chosen.connect(self.go_to_level)
        self.search.chosen.connect(self.reveal_hit)
        self.search.closed.connect(self.canvas.setFocus)
        self.panel.link_activated.connect(self.follow_link)
        self.panel.docs_toggled.connect(lambda open_: self.settings.setValue("panel/docs_open", open_))
        self.tensors.tensor_chosen.connect(self.show_tensor)
        self.tensors.module_chosen.connect(lambda node: self.panel.show_html(properties.module_html(node)))
        hints = QGuiApplication.styleHints()
        if hints is not None and hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda _scheme: self.appearance.system_changed())
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
        self.history.clear()
        self.places.forget_model()
        self.recent.remember(path)
        self._update_title()
        self.tensors.set_model(self.model)
        self.search.set_model(self.model, self.places.hierarchy_at)
        self.show_tensors(not navigation.has_graph)
        if navigation.has_graph:
            self.show_level(fit=True)
        else:
            self.canvas.set_scene(None)
            count = sum(1 for _ in self.model.all_tensors())
            self._show_idle(f"{count:,} tensors, no operations: the file holds weights only")
        self.overlays.model_opened(self.model, navigation.has_graph)
        self.runs.model_opened()
        self.show_model_properties()
        self.commands.refresh()
        self.canvas.setFocus()  # +/-, arrows and F work at once

    def _on_open_failed(self, exc: FormatError) -> None:
        self.open_error = exc
        self._show_idle("Could not open the file")
        if not self.raise_errors:
            QMessageBox.warning(self, "netray — cannot open file", str(exc))

    def compare_dialog(self) -> None:
        """File › Compare…: choose model B; the split view opens with this window's model as A."""
        if self.model is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Compare with", str(self.settings.value("last_dir", "")))
        if path:
            self.compare_with(path)

    def compare_with(self, path: str | Path) -> Any:
        """Open the split view: this window's model (A) against the file at ``path`` (B)."""
        from netray_viewer.diff_window import CompareWindow

        if self.model is None:
            return None
        window = CompareWindow(settings=self.settings, theme=self.view_settings.theme, raise_errors=self.raise_errors)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.compare_windows = [w for w in getattr(self, "compare_windows", []) if w.isVisible()] + [window]
        window.show()
        window.compare((self.model.source, self.model), path)
        return window

    def recent_files(self) -> list[str]:
        return self.recent.paths()

    @property
    def recent_menu(self) -> Any:
        return self.commands.recent_menu

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
        self.setWindowTitle(f"{self.title_text()} — netray" if self.model is not None and self.model.source else "netray")

    def title_text(self) -> str:
        """The model file's name and, in a subgraph, where: the title of windows and pictures."""
        name = self.model.source.name if self.model is not None and self.model.source is not None else "graph"
        level = self.level
        return f"{name} › {level.label}" if level is not None and level.path else name

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
        self.jobs.layout(level, self.view_settings.layout, level.expanded)
        self._show_busy("Laying out… (Esc cancels)")

    def cancel_layout(self) -> None:
        """Esc: stop the layout in progress, or stop waiting for a file being read, or stop a run."""
        cancelled = self.jobs.cancel()
        if cancelled == "open":
            self._show_idle("Opening cancelled")
        elif not cancelled:
            self.runs.cancel()

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
        self.canvas.set_scene(scene, fit=self._fit_after, geometry=geometry, edge_labels=self.view_settings.show_edge_shapes)
        self.minimap.set_painter(self.canvas.scene_painter)
        self.overlays.scene_shown()
        self.place_minimap()
        self.inspector.highlight()
        self.commands.refresh()
        after, self._after_layout = self._after_layout, None
        if after is not None:
            after()

    def _on_layout_failed(self, message: str) -> None:
        self.layout_error = message
        self._show_idle(message)
        if not self.raise_errors:
            QMessageBox.warning(self, "netray — layout failed", message)

    def show_level(self, fit: bool, after: Callable[[], None] | None = None) -> None:
        nav = self.navigation
        if nav is None or not nav.levels:
            return
        self.breadcrumbs.set_path([lvl.label for lvl in nav.levels])
        inferred = nav.current.graph.inferred
        self.inferred_banner.setText(f"<b>Structure inferred:</b> {escape(inferred)}" if inferred else "")
        self.inferred_banner.setVisible(bool(inferred))
        self._update_title()
        self.request_layout(fit=fit, after=after)

    # -- places: Back and Forward (netray_viewer.places) -----------------------------------------
    @property
    def history(self) -> History:
        return self.places.history

    def record_place(self) -> None:
        self.places.record()

    def go_back(self) -> None:
        self.places.back()

    def go_forward(self) -> None:
        self.places.forward()

    # -- tensors ------------------------------------------------------------------------
    def show_tensors(self, show: bool) -> None:
        """The tensor tree (``True``) or the graph in the central area."""
        has_graph = self.navigation is not None and self.navigation.has_graph
        show = show or not has_graph
        self.pages.setCurrentWidget(self.tensors if show else self.pages.widget(0))
        self.commands.tensors.setChecked(show)
        self.minimap.setVisible(not show and self.scene is not None and self.minimap.painter is not None)

    def toggle_tensors(self) -> None:
        self.show_tensors(self.pages.currentWidget() is not self.tensors)

    def show_tensor(self, name: str, tensor: Tensor) -> None:
        self.panel.show_html(properties.tensor_html(name, tensor), tensors=[(name, tensor)])

    # -- groups -------------------------------------------------------------------------
    def set_expanded(
        self, expanded: frozenset[str], after: Callable[[], None] | None = None, fit: bool = False, keep_view: bool = False
    ) -> None:
        """Lay out with ``expanded``; ``keep_view`` keeps what is at the view's centre where it is."""
        level = self.level
        if level is None:
            return
        level.expanded = frozenset(expanded)
        if keep_view:
            anchor = self.places.anchor()

            def kept() -> None:
                self.places.keep(anchor)
                if after is not None:
                    after()

            self.request_layout(after=kept)
            return
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
        self.record_place()

        def keep_in_view() -> None:
            self.select_ref("group", group)
            i = self.scene.item_of(group) if self.scene is not None else None
            if i is not None and self.scene is not None:
                s = self.scene
                self.canvas.centre_on(float(s.x[i] + s.w[i] / 2), float(s.y[i] + min(s.h[i], 400) / 2))

        self.set_expanded(frozenset(expanded), after=keep_in_view)

    def expand_inside(self, group: Group) -> None:
        """Expand ``group`` and every group inside it."""
        level = self.level
        if level is not None:
            self.record_place()
            self.set_expanded(level.expanded | {g.id for g in group.walk()}, keep_view=True)

    def expand_all(self) -> None:
        if self.level is not None:
            self.record_place()
            self.set_expanded(frozenset(self.level.hierarchy.all_group_ids()), keep_view=True)

    def collapse_all(self) -> None:
        if self.level is not None:
            self.record_place()
            self.set_expanded(frozenset(self.level.hierarchy.expanded_to_depth(0)), keep_view=True)

    def expand_to_depth(self, depth: int) -> None:
        if self.level is not None:
            self.record_place()
            self.set_expanded(frozenset(self.level.hierarchy.expanded_to_depth(depth)), keep_view=True)

    def ask_expand_depth(self) -> None:
        depth, ok = QInputDialog.getInt(self, "Expand to depth", "Depth:", 1, 0, 64)
        if ok:
            self.expand_to_depth(depth)

    # -- subgraphs ------------------------------------------------------------------------
    def enter_subgraph(self, node: Node, index: int = 0, record: bool = True) -> None:
        """Open the node's ``index``-th subgraph; the panel then shows that graph."""
        nav = self.navigation
        if nav is None or not (0 <= index < len(node.subgraphs)):
            return
        if record:
            self.record_place()
        nav.current.view = self.canvas.view_box.viewRect()
        level = nav.enter(node, index)
        self.selected = None
        self.show_level(fit=level.view is None, after=self._restore_level_view)

    def _restore_level_view(self) -> None:
        level = self.level
        if level is not None and isinstance(level.view, QRectF):
            self.canvas.view_box.setRange(level.view, padding=0)
        self.show_model_properties()

    def go_to_level(self, depth: int) -> None:
        """Back to a level of the breadcrumbs; the panel then shows the node whose subgraph was left."""
        nav = self.navigation
        if nav is None or depth >= len(nav.levels) - 1:
            return
        self.record_place()
        nav.current.view = self.canvas.view_box.viewRect()
        left = nav.levels[depth + 1].via
        level = nav.back_to(depth)
        view = level.view

        def restore() -> None:
            if isinstance(view, QRectF):
                self.canvas.view_box.setRange(view, padding=0)
            if left is not None:
                self.select_ref("node", left)
            else:
                self.show_model_properties()

        self.show_level(fit=view is None, after=restore)

    def go_up(self) -> None:
        if self.navigation is not None and len(self.navigation.levels) > 1:
            self.go_to_level(len(self.navigation.levels) - 2)

    # -- selection and panels (netray_viewer.inspector) ---------------------------------------
    def select_item(self, i: int) -> None:
        """Select scene item ``i`` as a click on it does."""
        scene = self.scene
        if scene is None:
            return
        kind = scene.kind[i]
        what = "node" if kind == ItemKind.NODE else "group" if kind in (ItemKind.GROUP, ItemKind.FRAME) else "value"
        self.select_ref(what, scene.ref[i])

    def select_ref(self, what: str, ref: Any) -> None:
        self.inspector.select(what, ref)

    _select_ref = select_ref  # the name tests and older callers use

    def show_model_properties(self) -> None:
        self.inspector.show_model()

    def copy_text(self, text: str) -> None:
        self.inspector.copy_text(text)

    def copy_selected_name(self) -> None:
        self.inspector.copy_selected_name()

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
            self.select_ref("value", value)
        else:
            self.canvas.select(edge=j)

    def show_context_menu(self, item: int, where: QPoint) -> None:
        context_menu.item_menu(self, item).popup(where)

    # -- search and links (netray_viewer.places) -----------------------------------------------
    def reveal_node(self, node: Node, value: Value | None = None, record: bool = True) -> None:
        """Go to the node's graph, expand its groups, centre on it and select it (or its value's edge)."""
        self.places.reveal(node, value, record)

    def reveal_hit(self, hit: SearchHit) -> None:
        if hit.node is not None:
            self.reveal_node(hit.node, hit.value)
        elif hit.value is not None:
            self.select_ref("value", hit.value)

    def follow_link(self, link: str) -> None:
        """``node:<id>`` reveals a node (in whichever graph holds it); ``subgraph:<id>:<k>`` opens a subgraph."""
        self.places.follow(link)

    # -- pictures ---------------------------------------------------------------------------
    def export_dialog(self, fmt: str) -> Path | None:
        """File › Export: the picture of what the window shows, as ``fmt`` (".png", ".svg", ".pdf")."""
        if self.scene is None:
            return None
        return window_export.ask_and_export(self, self.scene, fmt)

    def export_group(self, group: Group) -> Path | None:
        scene = window_export.group_scene(self, group)
        if scene is None:
            return None
        return window_export.ask_and_export(self, scene, ".png", suffix="-" + group.label.replace("/", "_").replace(" ", ""))

    def copy_image(self) -> None:
        if self.scene is not None:
            window_export.copy_image(self, self.scene)

    # -- View settings and theme (netray_viewer.appearance) -------------------------------------
    def change_view(self, **changes: Any) -> None:
        """Change View settings (remembered); a change of what boxes show or of the direction lays out again."""
        self.appearance.change(**changes)

    def apply_theme(self, name: str) -> None:
        """Light, dark or the system's ("system"), remembered."""
        self.change_view(theme=name)

    # -- minimap, window events ------------------------------------------------------------
    def _sync_minimap(self) -> None:
        self.minimap.set_view_rect(self.canvas.view_box.viewRect())

    def place_minimap(self) -> None:
        m = self.minimap
        m.move(max(self.canvas.width() - m.width() - 12, 0), max(self.canvas.height() - m.height() - 12, 0))
        m.raise_()
        self._sync_minimap()
        self.overlays.place_legend()

    def resizeEvent(self, a0: QResizeEvent | None) -> None:
        super().resizeEvent(a0)
        self.place_minimap()

    def showEvent(self, a0: Any) -> None:
        super().showEvent(a0)
        self.place_minimap()

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        """Mouse buttons 4 and 5 (back and forward on most mice) anywhere in this window."""
        if a1 is not None and a1.type() == QEvent.Type.MouseButtonPress and isinstance(a1, QMouseEvent):
            button = a1.button()
            if button in (Qt.MouseButton.BackButton, Qt.MouseButton.ForwardButton) and isinstance(a0, QWidget) and a0.window() is self:
                if button == Qt.MouseButton.BackButton:
                    self.go_back()
                else:
                    self.go_forward()
                return True
        return False

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        self.jobs.stop_all()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        super().closeEvent(a0)


def _truthy(value: Any) -> bool:
    return value.strip().lower() in ("true", "1") if isinstance(value, str) else bool(value)
