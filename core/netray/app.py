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
    """The viewer application is not installed; the message says what to install."""

    def __init__(self, needed_for: str) -> None:
        super().__init__(f"{needed_for} needs the netray viewer, which is not installed: {INSTALL}")


def viewer(needed_for: str = "this") -> Any:
    """The viewer's front module (``run``, ``snapshot``, ``render_graph``); ViewerMissing without it."""
    for ep in entry_points(APP_GROUP):
        if ep.name == "viewer":
            return ep.load()
    raise ViewerMissing(needed_for)
