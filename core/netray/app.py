"""Finding the viewer application from the Qt-free core.

The viewer (``pip install netray``: PyQt6, pyqtgraph, ``netray open``, PNG and PDF
pictures, the notebook's window) registers a module in the entry-point group
``netray.app`` under the name ``viewer``. The core asks for it only when a command
needs it and never imports ``netray_viewer`` by name, so the core and every plugin
install and run without Qt.
"""

from __future__ import annotations

from typing import Any

from netray.entry_points import entry_points

APP_GROUP = "netray.app"
INSTALL = "pip install netray"


class ViewerMissing(RuntimeError):
    """The viewer application is not installed (or cannot load); the message says what to do."""

    def __init__(self, needed_for: str, problem: str = "which is not installed") -> None:
        super().__init__(f"{needed_for} needs the netray viewer, {problem}: {INSTALL}")


def viewer(needed_for: str = "this") -> Any:
    """The viewer's front module (``run``, ``snapshot``, ``render_graph``); ViewerMissing without it."""
    for ep in entry_points(APP_GROUP):
        if ep.name == "viewer":
            try:
                return ep.load()
            except ImportError as exc:  # installed, but Qt or a library of its own is missing
                raise ViewerMissing(needed_for, f"which is installed but cannot load ({exc})") from exc
    raise ViewerMissing(needed_for)
