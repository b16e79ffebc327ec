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
from urllib.parse import unquote

from PyQt6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, QSettings, Qt
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
from netray.ir import AttrKind, Model, Node, Tensor, Value
from netray.labels import constant_tensor
from netray.plugins import get_manager
from netray.scene import ItemKind, Scene
from netray_viewer import context_menu, properties, window_export
from netray_viewer.breadcrumbs import Breadcrumbs
from netray_viewer.canvas import GraphCanvas
from netray_viewer.geometry import SceneGeometry
from netray_viewer.history import History, Place
from netray_viewer.jobs import Jobs
from netray_viewer.menus import WindowActions
from netray_viewer.minimap import Minimap
from netray_viewer.navigation import GraphLevel, Navigation
from netray_viewer.search import SearchHit, SearchPanel, graphs_with_paths
from netray_viewer.sidebar import PropertiesPanel
from netray_viewer.tensors import TensorTree
from netray_viewer.theme import Theme, apply_application_palette, system_theme_name, theme_named
from netray_viewer.view_settings import ViewSettings

MAX_RECENT = 10
FOCUS_ZOOM = 0.9  # zoom a search result or jump target is shown at, at least
ANCHOR_BAND = 60.0  # an anchor is a box's centre, or for a tall frame a point near its title

Anchor = tuple[Any, float, float]  # what to keep in place, and its offset from the view's centre


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
        self.theme: Theme = theme_named(self._theme_name(self.view_settings.theme))
        # Before any widget exists: restyling the finished window costs ~20 ms at start-up.
        apply_application_palette(self.theme)
        self.model: Model | None = None
        self.navigation: Navigation | None = None
        self.selected: tuple[str, Any] | None = None  # ("node"|"value"|"group", ref)
        self.layout_error: str | None = None
        self.history = History()
        self._after_layout: Callable[[], None] | None = None
        self._fit_after = False
        self._node_paths: dict[int, tuple[tuple[str, int], ...]] | None = None
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

        self.commands = WindowActions(self)
        self._refresh_recent_menu()
        self._connect()
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self._theme_widgets()
        self._update_title()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # mouse buttons 4 and 5 anywhere in the window: Back, Forward

    # -- construction -----------------------------------------------------------------
    def _connect(self) -> None:
        c = self.canvas
        c.item_clicked.connect(self.on_item_clicked)
        c.item_double_clicked.connect(self.on_item_double_clicked)
        c.marker_clicked.connect(self.on_marker_clicked)
        c.edge_clicked.connect(self.on_edge_clicked)
        c.empty_clicked.connect(self.show_model_properties)
        c.context_requested.connect(self.show_context_menu)
        c.view_changed.connect(self._sync_minimap)
        c.resized.connect(self._place_minimap)
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
            hints.colorSchemeChanged.connect(lambda _scheme: self._system_theme_changed())
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
        self._node_paths = None
        self._remember(path)
        self._update_title()
        self.tensors.set_model(self.model)
        self.search.set_model(self.model, self._hierarchy_at)
        self.show_tensors(not navigation.has_graph)
        if navigation.has_graph:
            self._show_level(fit=True)
        else:
            self.canvas.set_scene(None)
            count = sum(1 for _ in self.model.all_tensors())
            self._show_idle(f"{count:,} tensors, no operations: the file holds weights only")
        self.show_model_properties()
        self.commands.refresh()
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

    @property
    def recent_menu(self) -> Any:
        return self.commands.recent_menu

    def _refresh_recent_menu(self) -> None:
        menu = self.commands.recent_menu
        menu.clear()
        for path in self.recent_files():
            action = menu.addAction(path)
            if action is not None:
                action.triggered.connect(lambda _=False, p=path: self.open_file(p))
        menu.setEnabled(bool(self.recent_files()))

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
        self.canvas.set_scene(scene, fit=self._fit_after, geometry=geometry, edge_labels=self.view_settings.show_edge_shapes)
        self.minimap.set_painter(self.canvas.scene_painter)
        self._place_minimap()
        self._restore_selection()
        self.commands.refresh()
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
        self._update_title()
        self.request_layout(fit=fit, after=after)

    # -- places: Back and Forward ------------------------------------------------------------
    def current_place(self) -> Place | None:
        if self.navigation is None or self.level is None:
            return None
        r = self.canvas.view_box.viewRect()
        view = (r.x(), r.y(), r.width(), r.height()) if self.scene is not None else None
        return Place(self.navigation.path, self.level.expanded, view, self.selected)

    def record_place(self) -> None:
        """Remember where the user is before a move, for Back."""
        place = self.current_place()
        if place is not None:
            self.history.record(place)
            self.commands.refresh()

    def go_back(self) -> None:
        current = self.current_place()
        place = self.history.back(current) if current is not None else None
        if place is not None:
            self.restore_place(place)

    def go_forward(self) -> None:
        current = self.current_place()
        place = self.history.forward(current) if current is not None else None
        if place is not None:
            self.restore_place(place)

    def restore_place(self, place: Place) -> None:
        """Show ``place``: its graph, its groups, its view and its selection."""
        nav = self.navigation
        if nav is None:
            return
        if nav.path != place.path:
            nav.current.view = self.canvas.view_box.viewRect()
            if nav.go_to(place.path) is None:
                self.status_label.setText("That place no longer exists")
                return
        nav.current.expanded = place.expanded

        def restore() -> None:
            if place.view is not None:
                self.canvas.view_box.setRange(QRectF(*place.view), padding=0)
            if place.selected is not None:
                self._select_ref(*place.selected)
            else:
                self.show_model_properties()

        self._show_level(fit=place.view is None, after=restore)
        self.commands.refresh()

    # -- anchors: the view keeps its place when the layout changes -------------------------------
    def _anchor(self) -> Anchor | None:
        """What lies at the view's centre (the selection, if in view) and its offset from the centre."""
        scene = self.scene
        if scene is None:
            return None
        rect = self.canvas.view_box.viewRect()
        centre = rect.center()
        items = scene.items_in(rect.left(), rect.top(), rect.right(), rect.bottom())
        chosen: int | None = None
        selected = self._selected_item()
        if selected is not None and selected in set(items.tolist()):
            chosen = selected
        else:
            boxes = items[scene.kind[items] != ItemKind.FRAME]
            if len(boxes):
                cx = scene.x[boxes] + scene.w[boxes] / 2
                cy = scene.y[boxes] + scene.h[boxes] / 2
                chosen = int(boxes[((cx - centre.x()) ** 2 + (cy - centre.y()) ** 2).argmin()])
            elif len(items):
                chosen = int(items[scene.depth[items].argmax()])
        if chosen is None:
            return None
        x, y = self._anchor_point(scene, chosen)
        return scene.ref[chosen], x - centre.x(), y - centre.y()

    @staticmethod
    def _anchor_point(scene: Scene, i: int) -> tuple[float, float]:
        return float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + min(scene.h[i], ANCHOR_BAND) / 2)

    def _keep_anchor(self, anchor: Anchor | None) -> None:
        """Put the anchored thing back where it was on screen, at the same zoom."""
        scene = self.scene
        if anchor is None or scene is None:
            return
        ref, dx, dy = anchor
        i = self._item_showing(ref)
        if i is None:
            return
        x, y = self._anchor_point(scene, i)
        rect = QRectF(self.canvas.view_box.viewRect())
        rect.moveCenter(QPointF(x - dx, y - dy))
        self.canvas.view_box.setRange(rect, padding=0)

    def _item_showing(self, ref: Any) -> int | None:
        """The item that shows ``ref``: its own box, else the box of the collapsed group holding it."""
        scene, level = self.scene, self.level
        if scene is None or level is None:
            return None
        i = scene.item_of(ref)
        if i is not None:
            return i
        if isinstance(ref, Node) and ref.index < len(level.graph.nodes) and level.graph.nodes[ref.index] is ref:
            if self.view_settings.fold_constants and bool(level.hierarchy.foldable[ref.index]):
                users = [c for v in ref.output_values() for c in v.consumers]
                if users:
                    return self._item_showing(users[0])  # a folded constant is drawn in its user's box
            for group in reversed(level.hierarchy.ancestors(ref.index)):
                i = scene.item_of(group)
                if i is not None:
                    return i
        if isinstance(ref, Group):
            parent = ref.parent
            while parent is not None:
                i = scene.item_of(parent)
                if i is not None:
                    return i
                parent = parent.parent
        return None

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
            anchor = self._anchor()

            def kept() -> None:
                self._keep_anchor(anchor)
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
            self._select_ref("group", group)
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
        self._show_level(fit=level.view is None, after=self._restore_level_view)

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
                self._select_ref("node", left)
            else:
                self.show_model_properties()

        self._show_level(fit=view is None, after=restore)

    def go_up(self) -> None:
        if self.navigation is not None and len(self.navigation.levels) > 1:
            self.go_to_level(len(self.navigation.levels) - 2)

    # -- selection and panels ---------------------------------------------------------------
    def select_item(self, i: int) -> None:
        """Select scene item ``i`` as a click on it does."""
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

    def on_item_clicked(self, i: int) -> None:
        self.select_item(i)

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

    def _folded_constant(self, value: Value) -> Node | None:
        """The folded constant (drawn in its user's box) making ``value``, when constants are folded."""
        level = self.level
        producer = value.producer
        if level is None or producer is None or not self.view_settings.fold_constants:
            return None
        i = producer.index
        nodes = level.graph.nodes
        return producer if i < len(nodes) and nodes[i] is producer and bool(level.hierarchy.foldable[i]) else None

    def _select_ref(self, what: str, ref: Any) -> None:
        """Select a node, value (edge) or group: highlight it and fill the panel."""
        self.selected = (what, ref)
        self._restore_selection()
        if what == "node":
            self._show_node(ref)
        elif what == "value":
            self.panel.show_html(properties.value_html(ref))
        else:
            self.panel.show_html(properties.group_html(ref))

    def _show_node(self, node: Node) -> None:
        info = None
        if self.model is not None:
            try:
                info = get_manager().operator_info(self.model.format, node.domain, node.op)
            except FormatError:
                info = None
        level = self.level
        tensors: list[tuple[str, Tensor]] = [(v.name, v.initializer) for v in node.weights() if v.initializer is not None]
        for v in node.input_values():
            constant = self._folded_constant(v) if v.initializer is None else None
            tensor = constant_tensor(constant) if constant is not None else None
            if tensor is not None:
                tensors.append((v.name, tensor))
        tensors += [(f"{node.name or node.op}.{a.name}", a.value) for a in node.attributes if a.kind is AttrKind.TENSOR and isinstance(a.value, Tensor)]
        html = properties.node_html(node, info, self._folded_constant, level.graph if level is not None else None)
        self.panel.show_html(html, tensors=tensors, docs=properties.doc_markdown(info))

    def _selected_item(self) -> int | None:
        scene = self.scene
        if scene is None or self.selected is None:
            return None
        what, ref = self.selected
        if what == "value":
            return scene.item_of(ref)
        return self._item_showing(ref)

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
            self.canvas.select(item=self._item_showing(ref))

    def show_model_properties(self) -> None:
        """The model's (and the graph on screen's) properties: clicking empty space, entering a subgraph."""
        self.selected = None
        self.canvas.select()
        if self.model is not None:
            self.panel.show_html(properties.model_html(self.model, self.level.graph if self.level is not None else None))

    def copy_text(self, text: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(text)
            self.status_label.setText(f"Copied {text}")

    def copy_selected_name(self) -> None:
        """Ctrl+C on the graph: the selected node's (group's, tensor's) name, as it is written."""
        if self.selected is None:
            return
        what, ref = self.selected
        if what == "node":
            self.copy_text(ref.name or ref.op)
        elif what == "group":
            self.copy_text(ref.label)
        else:
            self.copy_text(ref.name)

    def show_context_menu(self, item: int, where: QPoint) -> None:
        context_menu.item_menu(self, item).popup(where)

    # -- search and links ---------------------------------------------------------------------
    def _hierarchy_at(self, path: tuple[tuple[str, int], ...]) -> Any:
        level = self.navigation.known.get(path) if self.navigation is not None else None
        return level.hierarchy if level is not None else None

    def _path_of(self, node: Node) -> tuple[tuple[str, int], ...] | None:
        """The path of the graph holding ``node`` (main graph or a subgraph), or None if not in the model."""
        if self.model is None or not self.model.graphs:
            return None
        if self._node_paths is None:
            self._node_paths = {id(n): path for g, path, _ in graphs_with_paths(self.model.main) for n in g.nodes}
        return self._node_paths.get(id(node))

    def reveal_node(self, node: Node, value: Value | None = None, record: bool = True) -> None:
        """Go to the node's graph, expand its groups, lay out, centre on it and select it (or its edge)."""
        nav = self.navigation
        path = self._path_of(node)
        if nav is None or path is None:
            return
        if record:
            self.record_place()
        if path != nav.path:
            nav.current.view = self.canvas.view_box.viewRect()
            if nav.go_to(path) is None:
                return
            self.breadcrumbs.set_path([lvl.label for lvl in nav.levels])
            self._update_title()
        level = nav.current
        expanded = frozenset(level.hierarchy.reveal(level.expanded, node.index))

        def focus() -> None:
            scene = self.scene
            if scene is None:
                return
            if value is not None:
                self._select_ref("value", value)
            else:
                self._select_ref("node", node)
            i = self._item_showing(node)
            if i is not None:
                self.canvas.centre_on(float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + scene.h[i] / 2), FOCUS_ZOOM)

        scene = self.scene
        if expanded == level.expanded and scene is not None and scene.graph is level.graph and not self.busy:
            focus()
        else:
            level.expanded = expanded
            self._show_level(fit=False, after=focus)

    def reveal_hit(self, hit: SearchHit) -> None:
        if hit.node is not None:
            self.reveal_node(hit.node, hit.value)
        elif hit.value is not None:
            self._select_ref("value", hit.value)

    def follow_link(self, link: str) -> None:
        """``node:<id>`` reveals a node (in whichever graph holds it); ``subgraph:<id>:<k>`` opens a subgraph."""
        if self.model is None or self.level is None:
            return
        scheme, _, rest = link.partition(":")
        target, k = rest.rpartition(":")[::2] if scheme == "subgraph" else (rest, "0")
        node = self.model.node(unquote(target))
        if node is None or not k.isdigit() or self._path_of(node) is None:
            self.status_label.setText(f"cannot follow link {unquote(link)}: no such node in the model")
        elif scheme == "node":
            self.reveal_node(node)
        elif scheme == "subgraph":
            path = self._path_of(node)
            if self.navigation is not None and path != self.navigation.path and path is not None:
                self.record_place()
                self.navigation.go_to(path)
                self.enter_subgraph(node, int(k), record=False)
            else:
                self.enter_subgraph(node, int(k))

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

    # -- View settings and theme --------------------------------------------------------------
    def change_view(self, **changes: Any) -> None:
        """Change View settings (remembered); a change of what boxes show or of the direction lays out again."""
        old = self.view_settings
        new = old.with_(**changes)
        if new == old:
            self.commands.refresh()
            return
        self.view_settings = new
        new.save(self.settings)
        if new.theme != old.theme:
            self._apply_theme(theme_named(self._theme_name(new.theme)))
        if new.show_edge_shapes != old.show_edge_shapes and self.canvas.scene_painter is not None:
            self.canvas.scene_painter.show_edge_labels = new.show_edge_shapes
            self.canvas.item.update()
        if new.layout != old.layout and self.level is not None:
            self.set_expanded(self.level.expanded, keep_view=True)
        self.commands.refresh()

    def apply_theme(self, name: str) -> None:
        """Light, dark or the system's ("system"), remembered."""
        self.change_view(theme=name)

    @staticmethod
    def _theme_name(setting: str) -> str:
        return system_theme_name() if setting == "system" else setting

    def _system_theme_changed(self) -> None:
        if self.view_settings.theme == "system":
            self._apply_theme(theme_named(system_theme_name()))

    def _apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        apply_application_palette(theme)
        self._theme_widgets()

    def _theme_widgets(self) -> None:
        self.canvas.set_theme(self.theme)
        self.panel.apply_theme(self.theme)
        self.minimap.set_painter(self.canvas.scene_painter)
        self._place_minimap()

    # -- minimap, window events ------------------------------------------------------------
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
