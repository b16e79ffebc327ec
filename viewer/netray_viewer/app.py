"""Start the Qt application and the main window (``netray open``)."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PyQt6.QtCore import QMessageLogContext, QTimer, QtMsgType, qInstallMessageHandler
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget

_app: QApplication | None = None  # held here so the application outlives its caller's frame


def application() -> QApplication:
    """The process's QApplication, created on first use."""
    global _app
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    qInstallMessageHandler(_quiet_qt_messages)
    _app = QApplication(sys.argv[:1])
    _app.setApplicationName("netray")
    _app.setOrganizationName("netray")
    from netray_viewer.fonts import install_fallbacks

    install_fallbacks()  # CJK, Cyrillic, Arabic... names and metadata drawn, not boxes, where fonts exist
    return _app


# Messages Qt prints that say nothing to a user (the offscreen platform's missing window features).
_NOISE = ("This plugin does not support propagateSizeHints()", "This plugin does not support raise()")


def _quiet_qt_messages(kind: QtMsgType, _context: QMessageLogContext, message: str | None) -> None:
    if message and not message.startswith(_NOISE):
        print(message, file=sys.stderr)


def install_error_hook(window: QWidget | None) -> None:
    """Report an exception escaping a Qt slot in a message instead of aborting.

    PyQt6 calls qFatal (the process dies) on an unhandled exception in a slot
    unless ``sys.excepthook`` is replaced; a viewer bug must not take the user's
    session down. The full traceback still goes to stderr for a bug report.
    """

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        traceback.print_exception(kind, error, trace, file=sys.stderr)
        if isinstance(error, KeyboardInterrupt):
            QApplication.quit()
            return
        QMessageBox.warning(window, "netray — unexpected error", f"{kind.__name__}: {error}")

    sys.excepthook = hook


def run(path: str | None = None, expand: str = "auto") -> int:
    """Open the viewer window (and ``path`` if given); returns the exit code of the event loop."""
    from netray_viewer.window import MainWindow

    app = application()
    window = MainWindow(expand=expand)
    install_error_hook(window)
    window.show()
    if path:
        # Open once the event loop runs, so the window appears at once and errors show as dialogs.
        QTimer.singleShot(0, lambda: window.open_file(path))
    return int(app.exec())
