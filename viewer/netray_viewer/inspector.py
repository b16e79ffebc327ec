"""The selection and what the panel says about it: a node, an edge's value, a group, or the model.

A node's panel lists its weights and, where constants are folded into its box, the
folded constants' tensors (statistics, histogram, values), then its operator's
documentation. The selection is highlighted on the canvas by the box that shows it,
which after a relayout may be a collapsed group or, for a folded constant, its user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PyQt6.QtGui import QGuiApplication

from netray.errors import FormatError
from netray.ir import AttrKind, Node, Tensor, Value
from netray.labels import constant_tensor
from netray.plugins import get_manager
from netray_viewer import properties

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow


class Inspector:
    """Selects things, highlights them and fills the panel."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def folded_constant(self, value: Value) -> Node | None:
        """The folded constant (drawn in its user's box) making ``value``, when constants are folded."""
        w = self.window
        level = w.level
        producer = value.producer
        if level is None or producer is None or not w.view_settings.fold_constants:
            return None
        i = producer.index
        nodes = level.graph.nodes
        return producer if i < len(nodes) and nodes[i] is producer and bool(level.hierarchy.foldable[i]) else None

    def select(self, what: str, ref: Any) -> None:
        """Select a node, value (edge) or group: highlight it and fill the panel."""
        w = self.window
        w.selected = (what, ref)
        self.highlight()
        if what == "node":
            self.show_node(ref)
        elif what == "value":
            w.panel.show_html(properties.value_html(ref), run_views=w.runs.views_for_value(ref))
        else:
            w.panel.show_html(properties.group_html(ref) + w.overlays.group_html(ref))

    def show_node(self, node: Node) -> None:
        w = self.window
        info = None
        if w.model is not None:
            try:
                info = get_manager().operator_info(w.model.format, node.domain, node.op)
            except FormatError:
                info = None
        tensors: list[tuple[str, Tensor]] = [(v.name, v.initializer) for v in node.weights() if v.initializer is not None]
        for v in node.input_values():
            constant = self.folded_constant(v) if v.initializer is None else None
            tensor = constant_tensor(constant) if constant is not None else None
            if tensor is not None:
                tensors.append((v.name, tensor))
        for a in node.attributes:
            if a.kind is AttrKind.TENSOR and isinstance(a.value, Tensor):
                tensors.append((f"{node.name or node.op}.{a.name}", a.value))
        graph = w.level.graph if w.level is not None else None
        html = properties.node_html(node, info, self.folded_constant, graph, costs=w.overlays.node_html(node))
        w.panel.show_html(html, tensors=tensors, docs=properties.doc_markdown(info), run_views=w.runs.views_for_node(node))

    def selected_item(self) -> int | None:
        """The scene item showing the selection, if any."""
        w = self.window
        if w.scene is None or w.selected is None:
            return None
        what, ref = w.selected
        return w.scene.item_of(ref) if what == "value" else w.places.item_showing(ref)

    def highlight(self) -> None:
        """Highlight the selected thing in the current scene (after a relayout too)."""
        w = self.window
        scene = w.scene
        if scene is None or w.selected is None:
            w.canvas.select()
            return
        what, ref = w.selected
        if what == "value":
            edge = next((j for j, v in enumerate(scene.edge_value) if v is ref), None)
            w.canvas.select(item=scene.item_of(ref) if edge is None else None, edge=edge)
        else:
            w.canvas.select(item=w.places.item_showing(ref))

    def show_model(self) -> None:
        """The model's (and the graph on screen's) properties: clicking empty space, entering a subgraph."""
        w = self.window
        w.selected = None
        w.canvas.select()
        if w.model is not None:
            w.panel.show_html(properties.model_html(w.model, w.level.graph if w.level is not None else None) + w.runs.model_html())

    def copy_text(self, text: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(text)
            self.window.status_label.setText(f"Copied {text}")

    def copy_selected_name(self) -> None:
        """Ctrl+C on the graph: the selected node's (group's, tensor's) name, as it is written."""
        selected = self.window.selected
        if selected is None:
            return
        what, ref = selected
        if what == "node":
            self.copy_text(ref.name or ref.op)
        elif what == "group":
            self.copy_text(ref.label)
        else:
            self.copy_text(ref.name)
