"""Compare two models (:func:`netray.diff.diff_models`) off the UI thread, for the split view.

Matching nodes and comparing weights a tensor at a time takes seconds on a large
model; the two graphs are usable meanwhile and take their marks when the result comes.
"""

from __future__ import annotations

from PyQt6.QtCore import QThread, pyqtSignal

from netray.ir import Model


class DiffJob(QThread):
    """Diffs ``a`` against ``b``; emits one of ``done`` (token, DiffResult) or ``failed`` (token, message)."""

    done = pyqtSignal(int, object)
    failed = pyqtSignal(int, str)

    def __init__(self, token: int, a: Model, b: Model, weights: bool = True, tolerance: float = 0.0) -> None:
        super().__init__()
        self.token = token
        self.a = a
        self.b = b
        self.weights = weights
        self.tolerance = tolerance

    def run(self) -> None:
        try:
            from netray.diff import diff_models  # imported here: the window starts without it

            result = diff_models(self.a, self.b, weights=self.weights, tolerance=self.tolerance)
        except Exception as exc:  # an engine bug or an unreadable tensor: one line, never a crash
            self.failed.emit(self.token, f"comparison failed: {type(exc).__name__}: {exc}")
            return
        self.done.emit(self.token, result)
