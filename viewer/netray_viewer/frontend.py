"""What netray-core asks of the viewer application (entry point ``netray.app``: ``viewer``).

The core never imports ``netray_viewer`` by name: ``netray open``, PNG and PDF export
and the notebook's window find this module through the entry point, so a machine
with only netray-core and plugins installed (no Qt) still runs ``netray info`` and
``netray export -o x.svg``.
"""

from __future__ import annotations

from netray.ir import Graph
from netray.scene import Scene
from netray_viewer import run, snapshot


def render_graph(graph: Graph, fmt: str, *, expand: str = "auto", direction: str = "TB", theme: str = "light") -> bytes:
    """``graph`` drawn as ``fmt`` (".png", ".pdf" or ".svg") bytes with the viewer's painter, offscreen."""
    from netray_viewer.export import render_graph as render

    return render(graph, fmt, expand=expand, direction=direction, theme=theme)


def render_scene(scene: Scene, fmt: str, *, theme: str = "light", title: str = "", edge_labels: bool = True) -> bytes:
    """A laid-out ``scene`` drawn as ``fmt`` (".png", ".pdf" or ".svg") bytes with the viewer's painter, offscreen."""
    from netray_viewer.export import render_scene as render

    return render(scene, fmt, theme, title=title, edge_labels=edge_labels)


__all__ = ["render_graph", "render_scene", "run", "snapshot"]
