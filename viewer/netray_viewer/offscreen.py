"""Open a model offscreen, wait for the first complete draw and save the window as PNG."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from netray.errors import FormatError

_MODULE_START = time.monotonic()  # fallback start time when the caller gives none


def snapshot(
    path: str,
    out_png: str,
    expand: str = "auto",
    size: tuple[int, int] = (1600, 1000),
    t0: float | None = None,
    theme: str | None = "light",
    select: str | None = None,
) -> dict[str, Any]:
    """Save the window showing ``path`` to ``out_png``.

    Returns ``{"ready_s", "nodes", "visible"}``: seconds from ``t0`` (a
    ``time.monotonic()`` taken at process start) until the first complete draw,
    operations in the graph at all levels, and boxes drawn. ``select`` names a
    node to select (and open in the panel) before the grab. Raises FormatError.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QSettings

    from netray_viewer.app import application

    start = t0 if t0 is not None else _MODULE_START
    app = application()
    # A private settings file: a snapshot must not touch the user's recent files (removed afterwards).
    with tempfile.TemporaryDirectory(prefix="netray-snapshot-") as settings_dir:
        settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)
        try:
            return _grab(app, settings, path, out_png, start, expand, select, size, theme)
        finally:
            settings.sync()  # written now, while its folder exists: nothing is left to write later


def _grab(
    app: Any, settings: Any, path: str, out_png: str, start: float, expand: str, select: str | None, size: tuple[int, int], theme: str | None
) -> dict[str, Any]:
    """The window showing ``path``, grabbed to ``out_png`` (see :func:`snapshot`)."""
    from netray_viewer.navigation import displayed_node_count
    from netray_viewer.window import MainWindow

    window = MainWindow(expand=expand, settings=settings, raise_errors=True, theme=theme)
    window.resize(*size)
    window.show()
    app.processEvents()
    window.open_file(path, block=True)  # raises the FormatError
    if window.layout_error is not None:
        raise FormatError(path, window.model.format if window.model else "", window.layout_error)
    if select and window.level is not None:
        node = next((n for n in window.level.graph.nodes if n.name == select), None)
        if node is not None:
            window.reveal_node(node)
            window.wait_until_idle()
    app.processEvents()
    image = window.grab()  # paints the canvas: the first complete draw
    ready = time.monotonic() - start
    out = Path(out_png)
    tmp = out.with_name(out.name + ".tmp.png")
    if not image.save(str(tmp), "PNG"):
        raise OSError(f"cannot write {out}")
    os.replace(tmp, out)
    result = {
        "ready_s": round(ready, 3),
        "nodes": displayed_node_count(window.model.main) if window.model is not None and window.model.graphs else 0,
        "visible": window.canvas.item.last_drawn,
    }
    if window.model is not None and window.model.weights_only:
        result["tensors"] = sum(1 for _ in window.model.all_tensors())
    window.close()
    window.deleteLater()
    app.processEvents()
    return result
