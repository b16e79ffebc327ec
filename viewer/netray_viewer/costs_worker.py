"""Compute a model's costs (:func:`netray.costs.compute_costs`) off the UI thread.

Costs walk every operation's shapes; on a large model that takes a while, so the
window asks for them once the first layout is shown and colours by them when they come.
"""

from __future__ import annotations

from PyQt6.QtCore import QThread, pyqtSignal

from netray.ir import Model


class CostJob(QThread):
    """Computes ``model``'s :class:`~netray.costs.CostReport` (named dimensions from ``dims``); emits one of ``done`` or ``failed``."""

    done = pyqtSignal(int, object)  # token, CostReport
    failed = pyqtSignal(int, str)  # token, message

    def __init__(self, token: int, model: Model, dims: dict[str, int]) -> None:
        super().__init__()
        self.token = token
        self.model = model
        self.dims = dims

    def run(self) -> None:
        try:
            from netray.costs import compute_costs  # imported here: the window starts without it

            report = compute_costs(self.model, dims=self.dims)
        except Exception as exc:  # a cost rule's bug: one line in the status bar, never a crash
            self.failed.emit(self.token, f"costs not computed: {type(exc).__name__}: {exc}")
            return
        self.done.emit(self.token, report)
