"""Where the user is, going places, and keeping them: Back and Forward, jumps, and the view's anchor.

:class:`Places` records the window's place (:class:`~netray_viewer.history.Place`)
before every move a user may want to undo and restores one on Back or Forward. When
the layout changes under the user (Expand all, Collapse all, a View setting, the
direction), :meth:`Places.anchor` notes what lies at the view's centre (the selection
if in view) and :meth:`Places.keep` puts it back at the same spot on screen, at the
same zoom, whatever box now shows it: its own, or the collapsed group that holds it.
:meth:`Places.reveal` goes to any node of the model (search results, panel links,
the right-click menu's producers and consumers), in whichever graph holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from PyQt6.QtCore import QPointF, QRectF

from netray.hierarchy import Group, Hierarchy
from netray.ir import Node, Value
from netray.scene import ItemKind, Scene
from netray_viewer.history import History, Place
from netray_viewer.navigation import Path
from netray_viewer.search import graphs_with_paths

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

FOCUS_ZOOM = 0.9  # zoom a search result or jump target is shown at, at least
ANCHOR_BAND = 60.0  # an anchor is a box's centre, or for a tall frame a point near its title

Anchor = tuple[Any, float, float]  # what to keep in place, and its offset from the view's centre


class Places:
    """The window's history of places and its view anchors."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.history = History()
        self._node_paths: dict[int, Path] | None = None

    def forget_model(self) -> None:
        """A new model: no places, no paths."""
        self.history.clear()
        self._node_paths = None

    # -- Back and Forward ---------------------------------------------------------------------
    def current(self) -> Place | None:
        w = self.window
        if w.navigation is None or w.level is None:
            return None
        r = w.canvas.view_box.viewRect()
        view = (r.x(), r.y(), r.width(), r.height()) if w.scene is not None else None
        return Place(w.navigation.path, w.level.expanded, view, w.selected)

    def record(self) -> None:
        """Remember where the user is before a move, for Back."""
        place = self.current()
        if place is not None:
            self.history.record(place)
            self.window.commands.refresh()

    def back(self) -> None:
        current = self.current()
        place = self.history.back(current) if current is not None else None
        if place is not None:
            self.restore(place)

    def forward(self) -> None:
        current = self.current()
        place = self.history.forward(current) if current is not None else None
        if place is not None:
            self.restore(place)

    def restore(self, place: Place) -> None:
        """Show ``place``: its graph, its groups, its view and its selection."""
        w = self.window
        nav = w.navigation
        if nav is None:
            return
        if nav.path != place.path:
            nav.current.view = w.canvas.view_box.viewRect()
            if nav.go_to(place.path) is None:
                w.status_label.setText("That place no longer exists")
                return
        nav.current.expanded = place.expanded

        def restore() -> None:
            if place.view is not None:
                w.canvas.view_box.setRange(QRectF(*place.view), padding=0)
            if place.selected is not None:
                w.select_ref(*place.selected)
            else:
                w.show_model_properties()

        w.show_level(fit=place.view is None, after=restore)
        w.commands.refresh()

    # -- going to nodes ------------------------------------------------------------------------
    def hierarchy_at(self, path: Path) -> Hierarchy | None:
        """The groups of the graph at ``path``, if it was opened."""
        nav = self.window.navigation
        level = nav.known.get(path) if nav is not None else None
        return level.hierarchy if level is not None else None

    def path_of(self, node: Node) -> Path | None:
        """The path of the graph holding ``node`` (main graph or a subgraph), or None if not in the model."""
        model = self.window.model
        if model is None or not model.graphs:
            return None
        if self._node_paths is None:
            self._node_paths = {id(n): path for g, path, _ in graphs_with_paths(model.main) for n in g.nodes}
        return self._node_paths.get(id(node))

    def reveal(self, node: Node, value: Value | None = None, record: bool = True) -> None:
        """Go to the node's graph, expand its groups, lay out, centre on it and select it (or its edge)."""
        w = self.window
        nav = w.navigation
        path = self.path_of(node)
        if nav is None or path is None:
            return
        if record:
            self.record()
        if path != nav.path:
            nav.current.view = w.canvas.view_box.viewRect()
            if nav.go_to(path) is None:
                return
        level = nav.current
        expanded = frozenset(level.hierarchy.reveal(level.expanded, node.index))

        def focus() -> None:
            scene = w.scene
            if scene is None:
                return
            if value is not None:
                w.select_ref("value", value)
            else:
                w.select_ref("node", node)
            i = self.item_showing(node)
            if i is not None:
                w.canvas.centre_on(float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + scene.h[i] / 2), FOCUS_ZOOM)

        scene = w.scene
        if expanded == level.expanded and scene is not None and scene.graph is level.graph and not w.busy:
            focus()
        else:
            level.expanded = expanded
            w.show_level(fit=False, after=focus)

    def follow(self, link: str) -> None:
        """``node:<id>`` reveals a node (in whichever graph holds it); ``subgraph:<id>:<k>`` opens a subgraph."""
        w = self.window
        if w.model is None or w.level is None or w.navigation is None:
            return
        scheme, _, rest = link.partition(":")
        target, k = rest.rpartition(":")[::2] if scheme == "subgraph" else (rest, "0")
        node = w.model.node(unquote(target))
        path = self.path_of(node) if node is not None else None
        if node is None or path is None or not k.isdigit():
            w.status_label.setText(f"cannot follow link {unquote(link)}: no such node in the model")
        elif scheme == "node":
            self.reveal(node)
        elif scheme == "subgraph":
            if path != w.navigation.path:
                self.record()
                w.navigation.current.view = w.canvas.view_box.viewRect()
                w.navigation.go_to(path)
                w.enter_subgraph(node, int(k), record=False)
            else:
                w.enter_subgraph(node, int(k))

    # -- anchors -----------------------------------------------------------------------------
    def anchor(self) -> Anchor | None:
        """What lies at the view's centre (the selection, if in view) and its offset from the centre."""
        w = self.window
        scene = w.scene
        if scene is None:
            return None
        rect = w.canvas.view_box.viewRect()
        centre = rect.center()
        items = scene.items_in(rect.left(), rect.top(), rect.right(), rect.bottom())
        chosen: int | None = None
        selected = w.inspector.selected_item()
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
        x, y = anchor_point(scene, chosen)
        return scene.ref[chosen], x - centre.x(), y - centre.y()

    def keep(self, anchor: Anchor | None) -> None:
        """Put the anchored thing back where it was on screen, at the same zoom."""
        w = self.window
        scene = w.scene
        if anchor is None or scene is None:
            return
        ref, dx, dy = anchor
        i = self.item_showing(ref)
        if i is None:
            return
        x, y = anchor_point(scene, i)
        rect = QRectF(w.canvas.view_box.viewRect())
        rect.moveCenter(QPointF(x - dx, y - dy))
        w.canvas.view_box.setRange(rect, padding=0)

    def item_showing(self, ref: Any) -> int | None:
        """The item that shows ``ref``: its own box, else the box of the collapsed group holding it.

        A folded constant is shown by its first user's box.
        """
        w = self.window
        scene, level = w.scene, w.level
        if scene is None or level is None:
            return None
        i = scene.item_of(ref)
        if i is not None:
            return i
        if isinstance(ref, Node) and ref.index < len(level.graph.nodes) and level.graph.nodes[ref.index] is ref:
            if w.view_settings.fold_constants and bool(level.hierarchy.foldable[ref.index]):
                users = [c for v in ref.output_values() for c in v.consumers]
                if users:
                    return self.item_showing(users[0])
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


def anchor_point(scene: Scene, i: int) -> tuple[float, float]:
    """The point of item ``i`` kept in place: a box's centre, a tall frame's top middle."""
    return float(scene.x[i] + scene.w[i] / 2), float(scene.y[i] + min(scene.h[i], ANCHOR_BAND) / 2)
