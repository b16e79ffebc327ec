"""Run the layout off the UI thread so the window never freezes.

A :class:`LayoutJob` computes one Scene in a QThread and reports progress and
the result through signals; Esc (or a newer request) cancels it. Results of a
cancelled or superseded job are dropped by the receiver using ``token``.
"""

from __future__ import annotations

import threading
from typing import Any

from PyQt6.QtCore import QThread, pyqtSignal

from netray_viewer.geometry import SceneGeometry
from netray_viewer.navigation import GraphLevel
from netray_viewer.painter import DETAIL_LIMIT
from netray_viewer.view_settings import LayoutOptions


class CancelFlag:
    """A cancel signal the layout can poll: call it, test ``is_set()`` or its truth."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()

    def __bool__(self) -> bool:
        return self._event.is_set()


class LayoutJob(QThread):
    """Lays out ``level``'s graph at ``expanded`` with ``options`` in a worker thread."""

    progressed = pyqtSignal(int, int, int)  # token, done, total
    finished_scene = pyqtSignal(int, object, object)  # token, Scene, SceneGeometry
    failed = pyqtSignal(int, str)  # token, message
    cancelled = pyqtSignal(int)  # token

    def __init__(self, token: int, level: GraphLevel, options: LayoutOptions, expanded: frozenset[str]) -> None:
        super().__init__()
        self.token = token
        self.level = level
        self.options = options
        self.expanded = expanded
        self.cancel_flag = CancelFlag()

    def cancel(self) -> None:
        self.cancel_flag.set()

    def _progress(self, *args: Any) -> None:
        """Accept ``(done, total)`` or a fraction in [0, 1]."""
        if len(args) >= 2:
            done, total = int(args[0]), int(args[1])
        elif args:
            done, total = int(float(args[0]) * 1000), 1000
        else:
            return
        self.progressed.emit(self.token, done, total)

    def run(self) -> None:
        """Emit exactly one of finished_scene, cancelled or failed, whatever happens."""
        try:
            # The cache for new options indexes every edge of the graph: made here, off the UI thread.
            cache = self.level.cache(self.options)
            scene = cache.scene(self.expanded, cancel=self.cancel_flag, progress=self._progress)
            if self.cancel_flag.is_set() or scene is None:
                self.cancelled.emit(self.token)
                return
            # Paint caches too: for a large scene the UI thread then only draws.
            geometry = SceneGeometry.of(scene)
            if scene.size > DETAIL_LIMIT:
                geometry.build_whole_paths()
        except Exception as exc:  # a cancelled layout or a layout bug: report, never crash the UI
            if self.cancel_flag.is_set():
                self.cancelled.emit(self.token)
            else:
                self.failed.emit(self.token, f"layout failed: {type(exc).__name__}: {exc}")
            return
        self.finished_scene.emit(self.token, scene, geometry)
