"""The split view: two models side by side, their changes marked, navigation kept in step.

Each side is a :class:`DiffPane`, a :class:`~netray_viewer.window.MainWindow` without
its menus, toolbar and docks, embedded in the :class:`CompareWindow`: it keeps its own
navigation, layouts, overlays, places and selection, so everything a single window
does with a graph (expanding groups, subgraphs, revealing a node) works on each side.
The comparison (:func:`netray.diff.diff_models`) runs in the background
(:class:`~netray_viewer.jobs.Jobs`); when it comes each side marks its boxes
(:mod:`netray_viewer.diff_marks`), offers the changes as metrics, and the dock lists them.

What follows the other side:

* **Selecting** a node selects its partner(s) on the other side (the first of several,
  revealed and centred); a node without a partner clears the other side's selection.
  A selected group selects the other side's group of the same id, else the innermost
  group holding all the partners of its operations.
* **Expanding or collapsing** a group does the same to that partner group.
* **Panning and zooming**, once the gesture pauses (``SYNC_DELAY_MS``), centres the
  other side on the partner of the box nearest the view's centre, at the same zoom and
  at the same offset from the centre; with no partner in view, the other side moves by
  the same distance (relative scroll). Moves the split view makes itself (jumps, a
  relayout) are not echoed back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QPointF, QRectF, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from netray.hierarchy import Group
from netray.ir import Model, Node
from netray.scene import Scene
from netray_viewer.diff_list import ChangeList
from netray_viewer.diff_marks import DiffMarks
from netray_viewer.geometry import SceneGeometry
from netray_viewer.jobs import Jobs
from netray_viewer.navigation import Navigation
from netray_viewer.view_settings import ViewSettings
from netray_viewer.window import MainWindow

SYNC_DELAY_MS = 80  # a pan or zoom is followed once it pauses this long
QUIET_S = 0.6  # after the split view moves a side itself, that side's view changes are not followed
METRIC_NAME = "change"  # preferred overlay metric from the engine, else the first it offers


class DiffPane(MainWindow):
    """One side of the split view: a window's graph machinery without its menus and docks."""

    def __init__(self, side: str, compare: CompareWindow, settings: QSettings, theme: str | None) -> None:
        self.side = side
        self.compare = compare
        self.status: dict[str, str] = {}
        super().__init__(expand="auto", settings=settings, raise_errors=compare.raise_errors, theme=theme)
        self.setWindowFlags(Qt.WindowType.Widget)
        menu_bar = self.menuBar()
        if menu_bar is not None:
            menu_bar.setVisible(False)
        self.commands.toolbar.setVisible(False)
        self.panel.hide()
        self.search.hide()
        self.setAcceptDrops(False)
        # Two panes in one window: each one's shortcuts act where the focus is, not window-wide.
        for action in self.actions():
            if action.shortcutContext() == Qt.ShortcutContext.WindowShortcut:
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _on_opened(self, path: Path, navigation: Navigation) -> None:
        super()._on_opened(path, navigation)
        self.compare.pane_opened(self)

    def _on_scene(self, scene: Scene, geometry: SceneGeometry) -> None:
        super()._on_scene(scene, geometry)
        self.apply_marks()
        self.compare.pane_laid_out(self)

    def select_ref(self, what: str, ref: Any) -> None:
        super().select_ref(what, ref)
        self.compare.pane_selected(self, what, ref)

    def toggle_group(self, group: Any, expand: bool) -> None:
        super().toggle_group(group, expand)
        self.compare.pane_toggled(self, group, expand)

    def set_status(self, status: dict[str, str]) -> None:
        self.status = dict(status)
        self.apply_marks()

    def apply_marks(self) -> None:
        """Mark the scene on screen with the diff's statuses."""
        painter = self.canvas.scene_painter
        if painter is None:
            return
        level = self.level
        hierarchy = level.hierarchy if level is not None and level.graph is painter.scene.graph else None
        painter.marks = DiffMarks.of(painter.scene, hierarchy, self.status) if self.status else None
        self.canvas.item.update()

    @property
    def marks(self) -> DiffMarks | None:
        painter = self.canvas.scene_painter
        return painter.marks if painter is not None else None

    def mark_of(self, ref: Any) -> str:
        """The mark on the box showing ``ref`` (a node or group): a kind of change, or "same"."""
        marks = self.marks
        i = self.places.item_showing(ref)
        return marks.status_of(i) if marks is not None and i is not None else "same"

    def _update_title(self) -> None:
        self.compare.update_headers()


class CompareWindow(QMainWindow):
    """Model A and model B side by side, with the list of changes on the right."""

    def __init__(self, settings: QSettings | None = None, theme: str | None = None, raise_errors: bool = False) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings("netray", "netray")
        self.raise_errors = raise_errors
        self.theme_name = ViewSettings.load(self.settings, theme).theme
        self.result: Any = None
        self.diff_error: str | None = None
        self.paths: list[Path | None] = [None, None]
        self.headers = [QLabel(), QLabel()]
        self.panes = (DiffPane("a", self, self.settings, theme), DiffPane("b", self, self.settings, theme))
        self.jobs = Jobs(self)
        self.jobs.diff_ready.connect(self._on_diff)
        self.jobs.diff_failed.connect(self._on_diff_failed)
        self._syncing = False
        self._expect: dict[str, Any] = {}  # per side: the ref a jump will select there (not echoed back)
        self._quiet: dict[str, float] = {"a": 0.0, "b": 0.0}
        self._last_centre: dict[str, QPointF | None] = {"a": None, "b": None}
        self._moved: DiffPane | None = None
        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(SYNC_DELAY_MS)
        self._sync_timer.timeout.connect(self._follow_view)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        for header, pane in zip(self.headers, self.panes, strict=True):
            column = QWidget()
            layout = QVBoxLayout(column)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(0)
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            header.setContentsMargins(6, 4, 6, 4)
            layout.addWidget(header)
            layout.addWidget(pane, 1)
            splitter.addWidget(column)
            pane.canvas.view_changed.connect(lambda p=pane: self._view_moved(p))
        splitter.setSizes([1, 1])
        self.setCentralWidget(splitter)
        self.changes = ChangeList(self)
        self.changes.chosen.connect(self.jump_to)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.changes)
        self.status_label = QLabel("")
        status = self.statusBar()
        assert status is not None
        status.addWidget(self.status_label, 1)
        self._build_menus()
        self.resize(1700, 950)
        self.update_headers()

    # -- construction ------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        assert bar is not None
        file_menu = bar.addMenu("&File")
        assert file_menu is not None
        self.export_actions: dict[str, QAction] = {}
        for text, fmt in (("Export Comparison as &PNG…", ".png"), ("Export Comparison as &SVG…", ".svg"), ("Export Comparison as P&DF…", ".pdf")):
            action = QAction(text, self)
            action.triggered.connect(lambda _=False, f=fmt: self.export_dialog(f))
            file_menu.addAction(action)
            self.export_actions[fmt] = action
        file_menu.addSeparator()
        close = QAction("&Close", self)
        close.setShortcut(QKeySequence(QKeySequence.StandardKey.Close))
        close.triggered.connect(lambda _=False: self.close())
        file_menu.addAction(close)
        view = bar.addMenu("&View")
        assert view is not None
        self.colour_by_change = QAction("&Colour by Change (metric)", self)
        self.colour_by_change.setCheckable(True)
        self.colour_by_change.toggled.connect(self.set_colour_by_change)
        view.addAction(self.colour_by_change)
        fit = QAction("&Fit Both", self)
        fit.triggered.connect(lambda _=False: self.fit_both())
        view.addAction(fit)
        self.follow_views = QAction("&Follow Panning and Zooming", self)
        self.follow_views.setCheckable(True)
        self.follow_views.setChecked(True)
        view.addAction(self.follow_views)
        view.addAction(self.changes.toggleViewAction())
        self._refresh_actions()

    def _refresh_actions(self) -> None:
        ready = self.result is not None
        for action in self.export_actions.values():
            action.setEnabled(ready)
        self.colour_by_change.setEnabled(ready and bool(self._metrics(self.panes[0])))

    # -- opening -------------------------------------------------------------------------------
    def compare(self, a: str | Path | tuple[Path | None, Model], b: str | Path | tuple[Path | None, Model]) -> None:
        """Open ``a`` and ``b`` (paths, or a path and a model already read) and compare them once both are in."""
        self.result = None
        self.diff_error = None
        for k, (pane, source) in enumerate(zip(self.panes, (a, b), strict=True)):
            pane.set_status({})
            if isinstance(source, tuple):
                path, model = source
                self.paths[k] = Path(path) if path is not None else None
                pane._on_opened(self.paths[k] or Path(model.source or "model"), Navigation(model, pane.expand_mode))
            else:
                self.paths[k] = Path(source)
                pane.open_file(source)
        self.changes.summary.setText("Reading both models…")
        self.update_headers()

    def pane_opened(self, pane: DiffPane) -> None:
        self.update_headers()
        a, b = (p.model for p in self.panes)
        if a is not None and b is not None and all(p.open_error is None for p in self.panes) and self.result is None:
            self.status_label.setText("Comparing…")
            self.changes.summary.setText("Comparing…")
            self.jobs.diff(a, b)

    def wait_until_ready(self, timeout_s: float = 60.0) -> bool:
        """Process events until both sides are read and laid out and the comparison is in (tests, pictures)."""
        start = time.monotonic()
        for pane in self.panes:
            if not pane.wait_until_idle(timeout_s):
                return False
        left = max(timeout_s - (time.monotonic() - start), 0.1)
        if not self.jobs.wait_for_diff(left):
            return False
        return all(pane.wait_until_idle(timeout_s) for pane in self.panes)

    def _on_diff(self, result: Any) -> None:
        self.result = result
        a, b = self.panes
        a.set_status(result.status_a())
        b.set_status(result.status_b())
        for pane, metrics in ((a, self._safe(result.metrics_a)), (b, self._safe(result.metrics_b))):
            if metrics:
                pane.overlays.add_metrics(metrics)
        self.changes.set_result(result, self.theme_name)
        summary = result.summary()
        self.status_label.setText(
            "The models are the same"
            if getattr(result, "same", False)
            else ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in summary.items() if isinstance(v, int))
        )
        if self.colour_by_change.isChecked():
            self.set_colour_by_change(True)
        self._refresh_actions()

    @staticmethod
    def _safe(call: Any) -> list[Any]:
        try:
            return list(call())
        except Exception:  # metrics are an extra: the marks and the list still work
            return []

    def _on_diff_failed(self, message: str) -> None:
        self.diff_error = message
        self.status_label.setText(message)
        self.changes.set_failed(message)
        if not self.raise_errors:
            QMessageBox.warning(self, "netray — cannot compare", message)

    def update_headers(self) -> None:
        if not hasattr(self, "panes"):
            return  # a pane's own start-up asks before both panes exist
        names = []
        for side, header, pane in zip("AB", self.headers, self.panes, strict=True):
            model = pane.model
            name = model.source.name if model is not None and model.source is not None else "…"
            level = pane.level
            where = f" › {level.label}" if level is not None and level.path else ""
            header.setText(f"<b>{side}</b> — {name}{where}")
            names.append(name)
        self.setWindowTitle(f"{names[0]} ⇄ {names[1]} — netray")

    # -- the overlay metric ---------------------------------------------------------------------
    def _metrics(self, pane: DiffPane) -> list[Any]:
        if self.result is None:
            return []
        return self._safe(self.result.metrics_a if pane.side == "a" else self.result.metrics_b)

    def set_colour_by_change(self, on: bool) -> None:
        """Colour both graphs by the diff's metric (as View › Metric would), or back to the usual colours."""
        for pane in self.panes:
            metrics = self._metrics(pane)
            chosen = next((m for m in metrics if m.name == METRIC_NAME), metrics[0] if metrics else None)
            pane.overlays.choose(chosen.name if on and chosen is not None else None)

    # -- partners --------------------------------------------------------------------------------
    def other(self, pane: DiffPane) -> DiffPane:
        return self.panes[1] if pane is self.panes[0] else self.panes[0]

    def partners(self, pane: DiffPane, node: Node) -> list[Node]:
        """The nodes on the other side paired with ``node``."""
        result, other = self.result, self.other(pane)
        if result is None or other.model is None:
            return []
        ids = result.partner_a(node.id) if pane.side == "a" else result.partner_b(node.id)
        found = [other.model.node(i) for i in ids]
        return [n for n in found if n is not None]

    def partner_group(self, pane: DiffPane, group: Group) -> Group | None:
        """The other side's group of the same id, else the innermost one holding every partner of its operations."""
        other = self.other(pane)
        level, mine = other.level, pane.level
        if level is None or mine is None:
            return None
        hierarchy = level.hierarchy
        same = hierarchy.groups.get(group.id)
        if same is not None and same is not hierarchy.root:
            return same
        nodes = mine.graph.nodes
        chains: list[list[Group]] = []
        for k in mine.hierarchy.order[group.start : group.end].tolist():
            for partner in self.partners(pane, nodes[k]):
                i = partner.index
                if i < len(level.graph.nodes) and level.graph.nodes[i] is partner:
                    chains.append(hierarchy.ancestors(i))
        if not chains:
            return None
        common: Group | None = None
        for depth in range(min(len(c) for c in chains)):
            if all(c[depth] is chains[0][depth] for c in chains):
                common = chains[0][depth]
            else:
                break
        return common

    def neighbour_partner(self, pane: DiffPane, node: Node) -> Node | None:
        """For a node with no partner (added, removed): the partner of its nearest matched neighbour."""
        seen = {id(node)}
        frontier = [node]
        for _ in range(4):
            following: list[Node] = []
            for n in frontier:
                around = [v.producer for v in n.input_values() if v.producer is not None]
                around += [c for v in n.output_values() for c in v.consumers]
                for m in around:
                    if id(m) in seen:
                        continue
                    seen.add(id(m))
                    found = self.partners(pane, m)
                    if found:
                        return found[0]
                    following.append(m)
            frontier = following
        return None

    # -- following the other side -------------------------------------------------------------
    def _reveal(self, pane: DiffPane, node: Node) -> None:
        """Show and select ``node`` on ``pane`` as a jump, not echoed to the other side."""
        self._expect[pane.side] = node
        self._quiet[pane.side] = time.monotonic() + QUIET_S
        previous, self._syncing = self._syncing, True
        try:
            pane.places.reveal(node, record=False)
        finally:
            self._syncing = previous

    def _clear(self, pane: DiffPane) -> None:
        pane.selected = None
        pane.canvas.select()

    def pane_selected(self, pane: DiffPane, what: str, ref: Any) -> None:
        if self._expect.get(pane.side) is ref:
            del self._expect[pane.side]  # the end of a jump this window made
            return
        if self._syncing or self.result is None:
            return
        other = self.other(pane)
        if what == "node" and isinstance(ref, Node):
            change = self.changes.change_of_node(pane.side, ref.id)
            if change is not None:
                self.changes.show_change(change)
            found = self.partners(pane, ref)
            if found:
                self._reveal(other, found[0])
                extra = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                self.status_label.setText(f"{ref.name or ref.op} ⇄ {found[0].name or found[0].op}{extra}")
            else:
                self._clear(other)
                side = "B" if pane.side == "a" else "A"
                self.status_label.setText(f"{ref.name or ref.op}: no partner in {side}")
        elif what == "group" and isinstance(ref, Group):
            group = self.partner_group(pane, ref)
            if group is not None:
                self._expect[other.side] = group
                previous, self._syncing = self._syncing, True
                try:
                    other.select_ref("group", group)
                finally:
                    self._syncing = previous
                self._expect.pop(other.side, None)

    def pane_toggled(self, pane: DiffPane, group: Any, expand: bool) -> None:
        """A group expanded or collapsed on one side: the same on its partner group, if there is one."""
        if self._syncing or self.result is None or not isinstance(group, Group):
            return
        other = self.other(pane)
        partner = self.partner_group(pane, group)
        if partner is None or other.level is None or (partner.id in other.level.expanded) == expand:
            return
        self._expect[other.side] = partner  # its relayout selects the group: not echoed back
        self._quiet[other.side] = time.monotonic() + QUIET_S
        previous, self._syncing = self._syncing, True
        try:
            other.toggle_group(partner, expand)
        finally:
            self._syncing = previous

    def pane_laid_out(self, pane: DiffPane) -> None:
        self._quiet[pane.side] = time.monotonic() + QUIET_S  # a relayout moves the view: not a user's pan
        self._last_centre[pane.side] = None

    def _view_moved(self, pane: DiffPane) -> None:
        if self._syncing or self.result is None or not self.follow_views.isChecked():
            return
        if time.monotonic() < self._quiet[pane.side] or pane.busy or pane.scene is None:
            self._last_centre[pane.side] = pane.canvas.view_box.viewRect().center()
            return
        self._moved = pane
        self._sync_timer.start()

    def _follow_view(self) -> None:
        """Centre the other side on the partner of what is at the moved side's centre, or scroll it as far."""
        pane = self._moved
        self._moved = None
        if pane is None:
            return
        other = self.other(pane)
        if other.scene is None:
            return
        rect = pane.canvas.view_box.viewRect()
        centre = rect.center()
        last = self._last_centre[pane.side]
        self._last_centre[pane.side] = centre
        zoom = pane.canvas.zoom()
        target: QPointF | None = None
        anchor = pane.places.anchor()
        if anchor is not None and isinstance(anchor[0], Node):
            ref, dx, dy = anchor
            for partner in self.partners(pane, ref):
                i = other.places.item_showing(partner)
                if i is not None:
                    s = other.scene
                    target = QPointF(float(s.x[i] + s.w[i] / 2) - dx, float(s.y[i] + s.h[i] / 2) - dy)
                    break
        theirs = other.canvas.view_box.viewRect()
        if target is None:
            if last is None:
                return
            target = theirs.center() + (centre - last)
        width = max(other.canvas.view_box.width(), 1.0) / max(zoom, 1e-9)
        height = max(other.canvas.view_box.height(), 1.0) / max(zoom, 1e-9)
        moved = QRectF(0, 0, width, height)
        moved.moveCenter(target)
        self._quiet[other.side] = time.monotonic() + QUIET_S
        previous, self._syncing = self._syncing, True
        try:
            other.canvas.view_box.setRange(moved, padding=0)
        finally:
            self._syncing = previous
        self._last_centre[other.side] = other.canvas.view_box.viewRect().center()

    # -- the list of changes ---------------------------------------------------------------------
    def jump_to(self, change: Any) -> None:
        """Show ``change`` on both sides: reveal its nodes (or, for a side without any, where they would be)."""
        a, b = self.panes
        targets: list[tuple[DiffPane, Node | None]] = []
        for pane, nodes, other_nodes, other in ((a, change.a, change.b, b), (b, change.b, change.a, a)):
            if nodes:
                targets.append((pane, nodes[0]))
            elif other_nodes:
                targets.append((pane, self.neighbour_partner(other, other_nodes[0])))
            else:
                targets.append((pane, None))
        for pane, node in targets:
            if node is not None:
                self._reveal(pane, node)
            else:
                self._clear(pane)
        self.changes.show_change(change)
        kind = change.kind
        if kind == "added":
            self.status_label.setText("Added in B; A shows the nearest matched neighbour")
        elif kind == "removed":
            self.status_label.setText("Removed from A; B shows the nearest matched neighbour")
        else:
            self.status_label.setText("")

    def choose_change(self, k: int) -> None:
        """Choose the ``k``-th entry of the list as a click does."""
        self.changes.choose(k)

    def fit_both(self) -> None:
        for pane in self.panes:
            self._quiet[pane.side] = time.monotonic() + QUIET_S
            pane.canvas.fit()

    # -- pictures --------------------------------------------------------------------------------
    def export_dialog(self, fmt: str) -> Path | None:
        if self.result is None:
            return None
        folder = Path(str(self.settings.value("export_dir", "") or Path.home()))
        stem = "-vs-".join((p.stem if p is not None else "model") for p in self.paths)
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", str(folder / f"{stem}{fmt}"))
        if not path:
            return None
        return self.export_to(path if Path(path).suffix else path + fmt)

    def export_to(self, path: str | Path) -> Path | None:
        from netray_viewer.diff_export import write_diff

        try:
            written = write_diff(self.result, path, theme=self.theme_name, models=(self.panes[0].model, self.panes[1].model))
        except (OSError, ValueError, MemoryError) as exc:
            if self.raise_errors:
                raise
            QMessageBox.warning(self, "netray — cannot export", f"{path}: {exc}")
            return None
        self.status_label.setText(f"Wrote {written}")
        return written

    def closeEvent(self, a0: QCloseEvent | None) -> None:
        self._sync_timer.stop()
        self.jobs.stop_all()
        for pane in self.panes:
            pane.close()
        super().closeEvent(a0)
