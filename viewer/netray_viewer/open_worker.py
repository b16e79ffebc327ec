"""Read a model file and build its group hierarchy off the UI thread.

Reading a large file and grouping 100,000 operations take seconds; done in a
QThread, the window keeps repainting and shows progress meanwhile. Every failure
arrives as one ``FormatError`` through ``failed``.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal

from netray.api import load_model
from netray.errors import FormatError
from netray.plugins import keep_out_of_collections
from netray_viewer.navigation import Navigation


class OpenJob(QThread):
    """Loads ``path`` and prepares the main graph's navigation level."""

    opened = pyqtSignal(int, object)  # token, Navigation
    failed = pyqtSignal(int, object)  # token, FormatError
    stage = pyqtSignal(int, str)  # token, what is happening now

    def __init__(self, token: int, path: Path, expand: str) -> None:
        super().__init__()
        self.token = token
        self.path = path
        self.expand = expand

    def run(self) -> None:
        """Emit exactly one of opened or failed, whatever happens."""
        try:
            self.stage.emit(self.token, f"Reading {self.path.name}…")
            keep_out_of_collections(False)  # the previously shown model becomes collectable again
            model = load_model(self.path)
            operations = sum(len(g.nodes) for g in model.graphs[:1])
            self.stage.emit(self.token, f"Grouping {operations:,} operations…")
            navigation = Navigation(model, self.expand)
            keep_out_of_collections(True)  # the model lives as long as it is shown (see netray.plugins)
        except FormatError as exc:
            self.failed.emit(self.token, exc)
            return
        except Exception as exc:  # a reader or hierarchy bug: still one line for the user, never a crash
            self.failed.emit(self.token, FormatError(self.path, "", f"{type(exc).__name__}: {exc}"))
            return
        self.opened.emit(self.token, navigation)
