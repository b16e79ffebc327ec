"""Start the Qt application and the main window (``netray open``)."""

from __future__ import annotations

import sys

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

_app: QApplication | None = None  # held here so the application outlives its caller's frame


def application() -> QApplication:
    """The process's QApplication, created on first use."""
    global _app
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    _app = QApplication(sys.argv[:1])
    _app.setApplicationName("netray")
    _app.setOrganizationName("netray")
    return _app


def run(path: str | None = None, expand: str = "auto") -> int:
    """Open the viewer window (and ``path`` if given); returns the exit code of the event loop."""
    from netray_viewer.window import MainWindow

    app = application()
    window = MainWindow(expand=expand)
    window.show()
    if path:
        # Open once the event loop runs, so the window appears at once and errors show as dialogs.
        QTimer.singleShot(0, lambda: window.open_file(path))
    return int(app.exec())
