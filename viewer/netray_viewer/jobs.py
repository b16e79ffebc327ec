"""The window's background work: reading a file, laying out, costs and a run, one of each at a time.

:class:`Jobs` starts the worker threads, drops the results of superseded or
cancelled work (each start takes a new token), keeps threads alive until they
end, and turns a thread that ended without a result into a failure, so the
window never waits forever. The window only connects to its signals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtWidgets import QApplication

from netray.errors import FormatError
from netray.ir import Model
from netray_viewer.costs_worker import CostJob
from netray_viewer.diff_worker import DiffJob
from netray_viewer.layout_worker import LayoutJob
from netray_viewer.navigation import GraphLevel, Navigation
from netray_viewer.open_worker import OpenJob
from netray_viewer.run_worker import RunJob
from netray_viewer.view_settings import LayoutOptions


class _Slot:
    """One kind of background work: the job running and a token that outdates every earlier one.

    Each start takes a new token; a result carries the token of the job that made it, and
    :meth:`relay` passes it on only if no newer job (or :meth:`forget`) came since.
    """

    def __init__(self) -> None:
        self.token = 0
        self.job: QThread | None = None

    def start(self) -> int:
        self.token += 1
        return self.token

    def forget(self) -> None:
        """Ignore whatever the running job says from now on."""
        self.token += 1
        self.job = None

    def relay(self, signal: Any) -> Callable[..., None]:
        """A slot for a job's result signal (token first) that emits ``signal`` with the rest."""

        def deliver(token: int, *args: Any) -> None:
            if token == self.token:
                self.job = None
                signal.emit(*args)

        return deliver

    def current(self, signal: Any) -> Callable[..., None]:
        """A slot for a job's progress signal (token first): passed on, the job left running."""

        def deliver(token: int, *args: Any) -> None:
            if token == self.token:
                signal.emit(*args)

        return deliver


class Jobs(QObject):
    """At most one file being read and one layout running; results of older ones are ignored."""

    opened = pyqtSignal(object, object)  # Path, Navigation
    open_failed = pyqtSignal(object)  # FormatError
    stage = pyqtSignal(str)  # what the reader is doing
    scene_ready = pyqtSignal(object, object)  # Scene, SceneGeometry
    layout_failed = pyqtSignal(str)
    layout_cancelled = pyqtSignal()
    progress = pyqtSignal(int, int)  # done, total
    costs_ready = pyqtSignal(object)  # CostReport
    costs_failed = pyqtSignal(str)
    run_progress = pyqtSignal(int, int)  # values captured, values the graph names
    run_done = pyqtSignal(object, object)  # RunResult, FeatureMaps
    run_failed = pyqtSignal(str)
    run_cancelled = pyqtSignal()
    diff_ready = pyqtSignal(object)  # netray.diff.DiffResult
    diff_failed = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open = _Slot()
        self._opening = Path()
        self._layout = _Slot()
        self._costs = _Slot()
        self._run = _Slot()
        self._diff = _Slot()
        self._running: set[QThread] = set()

    # -- state ----------------------------------------------------------------------------
    @property
    def opening(self) -> bool:
        return self._open.job is not None

    @property
    def laying_out(self) -> bool:
        return self._layout.job is not None

    @property
    def busy(self) -> bool:
        return self.opening or self.laying_out

    @property
    def computing_costs(self) -> bool:
        """Costs are being computed (not part of :attr:`busy`: the graph is usable meanwhile)."""
        return self._costs.job is not None

    @property
    def running_model(self) -> bool:
        """A Run… is in progress (not part of :attr:`busy`: the graph is usable meanwhile)."""
        return self._run.job is not None

    @property
    def diffing(self) -> bool:
        """Two models are being compared (not part of :attr:`busy`: both graphs are usable meanwhile)."""
        return self._diff.job is not None

    def _wait(self, pending: Callable[[], bool], timeout_s: float | None) -> bool:
        """Process events while ``pending()`` (snapshot and tests); False on timeout."""
        app = QApplication.instance()
        start = time.monotonic()
        while pending():
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                return False
            if app is not None:
                app.processEvents()
            time.sleep(0.002)
        return True

    def wait_until_idle(self, timeout_s: float | None = None) -> bool:
        """Process events until nothing is read or laid out; False on timeout."""
        if not self._wait(lambda: self.busy, timeout_s):
            return False
        app = QApplication.instance()
        if app is not None:
            app.processEvents()
        return True

    # -- reading ----------------------------------------------------------------------------
    def open(self, path: Path, expand: str) -> None:
        """Read ``path`` and group its main graph; a file still being read is abandoned."""
        job = OpenJob(self._open.start(), path, expand)
        job.opened.connect(self._on_opened)
        job.failed.connect(self._open.relay(self.open_failed))
        job.stage.connect(self._open.current(self.stage))
        self._start(self._open, job)
        self._opening = path

    def _on_opened(self, token: int, navigation: Navigation) -> None:
        if token == self._open.token:
            self._open.job = None
            self.opened.emit(self._opening, navigation)

    # -- layout -----------------------------------------------------------------------------
    def layout(self, level: GraphLevel, options: LayoutOptions, expanded: frozenset[str]) -> None:
        """Lay out ``level``'s graph at ``expanded`` with ``options``; a layout still running is cancelled."""
        if isinstance(self._layout.job, LayoutJob):
            self._layout.job.cancel()
        job = LayoutJob(self._layout.start(), level, options, expanded)
        job.progressed.connect(self._layout.current(self.progress))
        job.finished_scene.connect(self._layout.relay(self.scene_ready))
        job.failed.connect(self._layout.relay(self.layout_failed))
        job.cancelled.connect(self._layout.relay(self.layout_cancelled))
        self._start(self._layout, job)

    # -- costs ------------------------------------------------------------------------------
    def costs(self, model: Model, dims: dict[str, int] | None = None) -> None:
        """Compute ``model``'s costs (named dimensions as in ``dims``); the result of one still running is ignored."""
        job = CostJob(self._costs.start(), model, dims or {})
        job.done.connect(self._costs.relay(self.costs_ready))
        job.failed.connect(self._costs.relay(self.costs_failed))
        self._start(self._costs, job)

    def forget_costs(self) -> None:
        """Ignore the costs being computed (another model was opened)."""
        self._costs.forget()

    # -- running the model ------------------------------------------------------------------
    def run(self, model: Model, options: object) -> bool:
        """Run ``model`` with ``options`` (:class:`netray.run.RunOptions`); False while a run is in progress."""
        if self._run.job is not None:
            return False
        job = RunJob(self._run.start(), model, options)
        job.progressed.connect(self._run.current(self.run_progress))
        job.done.connect(self._run.relay(self.run_done))
        job.failed.connect(self._run.relay(self.run_failed))
        job.cancelled.connect(self._run.relay(self.run_cancelled))
        self._start(self._run, job)
        return True

    def cancel_run(self) -> bool:
        """Ask the run in progress to stop (the runtime polls the flag); False if none runs."""
        if not isinstance(self._run.job, RunJob):
            return False
        self._run.job.cancel()
        return True

    def forget_run(self) -> None:
        """Stop the run in progress and ignore whatever it says (another model was opened)."""
        self.cancel_run()
        self._run.forget()

    def wait_for_run(self, timeout_s: float | None = None) -> bool:
        """Process events until no run is in progress (tests, snapshots); False on timeout."""
        return self._wait(lambda: self._run.job is not None, timeout_s)

    # -- comparing two models ---------------------------------------------------------------
    def diff(self, a: Model, b: Model, weights: bool = True, tolerance: float = 0.0) -> None:
        """Compare ``a`` with ``b``; the result of a comparison still running is ignored."""
        job = DiffJob(self._diff.start(), a, b, weights, tolerance)
        job.done.connect(self._diff.relay(self.diff_ready))
        job.failed.connect(self._diff.relay(self.diff_failed))
        self._start(self._diff, job)

    def wait_for_diff(self, timeout_s: float | None = None) -> bool:
        """Process events until no comparison is in progress (tests, pictures); False on timeout."""
        return self._wait(lambda: self._diff.job is not None, timeout_s)

    # -- all --------------------------------------------------------------------------------
    def cancel(self) -> str:
        """Esc: cancel the layout, else stop waiting for the file. Says which ("layout", "open", "")."""
        if isinstance(self._layout.job, LayoutJob):
            self._layout.job.cancel()
            return "layout"
        if self._open.job is not None:
            self._open.forget()  # its result will be ignored when it arrives
            return "open"
        return ""

    def _start(self, slot: _Slot, job: QThread) -> None:
        job.finished.connect(lambda j=job: self._ended(j))
        self._running.add(job)
        job.start()
        slot.job = job

    def _ended(self, job: QThread) -> None:
        """A thread ended. Its result signal came first (same queue); if none did, it died silently."""
        self._running.discard(job)
        failures: tuple[tuple[_Slot, Any, object], ...] = (
            (self._layout, self.layout_failed, "layout stopped without a result"),
            (self._open, self.open_failed, FormatError(self._opening, "", "reading stopped without a result")),
            (self._costs, self.costs_failed, "costs stopped without a result"),
            (self._run, self.run_failed, "the run stopped without a result"),
            (self._diff, self.diff_failed, "the comparison stopped without a result"),
        )
        for slot, signal, reason in failures:
            if job is slot.job:
                slot.relay(signal)(slot.token, reason)
                return

    def stop_all(self, wait_ms: int = 5000) -> None:
        """Cancel what can be cancelled and wait for every thread (the window is closing)."""
        for job in list(self._running):
            if isinstance(job, (LayoutJob, RunJob)):
                job.cancel()
        for job in list(self._running):
            job.wait(wait_ms)
