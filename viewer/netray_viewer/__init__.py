"""netray's desktop viewer (PyQt6 + pyqtgraph).

Entry points for the CLI: :func:`run` opens the window, :func:`snapshot` renders a
model offscreen to a PNG. Qt is imported only when one of them is called.
"""

from __future__ import annotations

from typing import Any


def run(path: str | None = None, expand: str = "auto") -> int:
    """Open the viewer window (with ``path`` if given); returns the exit code."""
    from netray_viewer.app import run as _run

    return _run(path, expand)


def snapshot(path: str, out_png: str, expand: str = "auto", size: tuple[int, int] = (1600, 1000), **options: Any) -> dict[str, Any]:
    """Render ``path`` offscreen to ``out_png``; see :func:`netray_viewer.offscreen.snapshot`."""
    from netray_viewer.offscreen import snapshot as _snapshot

    return _snapshot(path, out_png, expand=expand, size=size, **options)


__all__ = ["run", "snapshot"]
