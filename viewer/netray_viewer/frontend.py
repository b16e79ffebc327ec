"""What netray-core asks of the viewer application (entry point ``netray.app``: ``viewer``).

The core never imports ``netray_viewer`` by name: ``netray open``, PNG and PDF export
and the notebook's window find this module through the entry point, so a machine
with only netray-core and plugins installed (no Qt) still runs ``netray info`` and
``netray export -o x.svg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netray.hierarchy import Hierarchy
from netray.ir import Graph, Model
from netray.metrics import Metric
from netray.scene import Scene
from netray_viewer import run, snapshot


def render_graph(graph: Graph, fmt: str, *, expand: str = "auto", direction: str = "TB", theme: str = "light") -> bytes:
    """``graph`` drawn as ``fmt`` (".png", ".pdf" or ".svg") bytes with the viewer's painter, offscreen."""
    from netray_viewer.export import render_graph as render

    return render(graph, fmt, expand=expand, direction=direction, theme=theme)


def render_scene(
    scene: Scene,
    fmt: str,
    *,
    theme: str = "light",
    title: str = "",
    edge_labels: bool = True,
    metric: Metric | None = None,
    hierarchy: Hierarchy | None = None,
) -> bytes:
    """A laid-out ``scene`` drawn as ``fmt`` (".png", ".pdf" or ".svg") bytes with the viewer's painter, offscreen;
    coloured by ``metric`` (collapsed groups by their totals over ``hierarchy``) with its legend, if given."""
    from netray_viewer.export import Overlay
    from netray_viewer.export import render_scene as render

    overlay = Overlay(metric, hierarchy) if metric is not None else None
    return render(scene, fmt, theme, title=title, edge_labels=edge_labels, overlay=overlay)


def render_diff(result: Any, path: str | Path, *, theme: str = "light", models: Sequence[Model | None] | None = None) -> Path:
    """Write both sides of ``result`` (:class:`netray.diff.DiffResult`) with their changes marked to ``path``.

    ``.png``, ``.pdf`` or ``.svg`` by the extension; offscreen, no display needed. The
    models are ``models`` (A, B) when given, else the ones the result holds.
    """
    from netray_viewer.diff_export import write_diff

    return write_diff(result, path, theme=theme, models=models)


def open_diff(a_path: str | Path, b_path: str | Path, *, theme: str | None = None) -> int:
    """Open the split view on ``a_path`` and ``b_path`` (``netray diff A B --open``); returns the exit code."""
    from PyQt6.QtCore import QTimer

    from netray_viewer.app import application, install_error_hook
    from netray_viewer.diff_window import CompareWindow

    app = application()
    window = CompareWindow(theme=theme)
    install_error_hook(window)
    window.show()
    QTimer.singleShot(0, lambda: window.compare(a_path, b_path))
    return int(app.exec())


__all__ = ["open_diff", "render_diff", "render_graph", "render_scene", "run", "snapshot"]
