"""The window's background work: reading a file, laying out, costs and a run, one of each at a time.

:class:`Jobs` starts the worker threads, drops the results of superseded or
cancelled work (each start takes a new token), keeps threads alive until they
end, and turns a thread that ended without a result into a failure, so the
window never waits forever. The window only connects to its signals.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtWidgets import QApplication

from netray.errors import FormatError
from netray.ir import Model
from netray.scene import Scene
from netray_viewer.costs_worker import CostJob
from netray_viewer.diff_worker import DiffJob
from netray_viewer.geometry import SceneGeometry
from netray_viewer.layout_worker import LayoutJob
from netray_viewer.navigation import GraphLevel, Navigation
from netray_viewer.open_worker import OpenJob
from netray_viewer.run_worker import RunJob
from netray_viewer.view_settings import LayoutOptions


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
        self._open_token = 0
        self._open_job: OpenJob | None = None
        self._opening = Path()
        self._layout_token = 0
        self._layout_job: LayoutJob | None = None
        self._costs_token = 0
        self._costs_job: CostJob | None = None
        self._run_token = 0
        self._run_job: RunJob | None = None
        self._diff_token = 0
        self._diff_job: DiffJob | None = None
        self._running: set[QThread] = set()

    # -- state ----------------------------------------------------------------------------
    @property
    def opening(self) -> bool:
        return self._open_job is not None

    @property
    def laying_out(self) -> bool:
        return self._layout_job is not None

    @property
    def busy(self) -> bool:
        return self.opening or self.laying_out

    @property
    def computing_costs(self) -> bool:
        """Costs are being computed (not part of :attr:`busy`: the graph is usable meanwhile)."""
        return self._costs_job is not None

    @property
    def running_model(self) -> bool:
        """A Run… is in progress (not part of :attr:`busy`: the graph is usable meanwhile)."""
        return self._run_job is not None

    def wait_until_idle(self, timeout_s: float | None = None) -> bool:
        """Process events until nothing is pending (snapshot and tests); False on timeout."""
        app = QApplication.instance()
        start = time.monotonic()
        while self.busy:
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                return False
            if app is not None:
                app.processEvents()
            time.sleep(0.002)
        if app is not None:
            app.processEvents()
        return True

    # -- reading ----------------------------------------------------------------------------
    def open(self, path: Path, expand: str) -> None:
        """Read ``path`` and group its main graph; a file still being read is abandoned."""
        self._open_token += 1
        job = OpenJob(self._open_token, path, expand)
        job.opened.connect(self._on_opened)
        job.failed.connect(self._on_open_failed)
        job.stage.connect(lambda token, text: self.stage.emit(text) if token == self._open_token else None)
        self._start(job)
        self._open_job = job
        self._opening = path

    def _on_opened(self, token: int, navigation: Navigation) -> None:
        if token == self._open_token:
            self._open_job = None
            self.opened.emit(self._opening, navigation)

    def _on_open_failed(self, token: int, error: FormatError) -> None:
        if token == self._open_token:
            self._open_job = None
            self.open_failed.emit(error)

    # -- layout -----------------------------------------------------------------------------
    def layout(self, level: GraphLevel, options: LayoutOptions, expanded: frozenset[str]) -> None:
        """Lay out ``level``'s graph at ``expanded`` with ``options``; a layout still running is cancelled."""
        if self._layout_job is not None:
            self._layout_job.cancel()
        self._layout_token += 1
        job = LayoutJob(self._layout_token, level, options, expanded)
        job.progressed.connect(lambda token, done, total: self.progress.emit(done, total) if token == self._layout_token else None)
        job.finished_scene.connect(self._on_scene)
        job.failed.connect(self._on_layout_failed)
        job.cancelled.connect(self._on_layout_cancelled)
        self._start(job)
        self._layout_job = job

    def _on_scene(self, token: int, scene: Scene, geometry: SceneGeometry) -> None:
        if token == self._layout_token:
            self._layout_job = None
            self.scene_ready.emit(scene, geometry)

    def _on_layout_failed(self, token: int, message: str) -> None:
        if token == self._layout_token:
            self._layout_job = None
            self.layout_failed.emit(message)

    def _on_layout_cancelled(self, token: int) -> None:
        if token == self._layout_token:
            self._layout_job = None
            self.layout_cancelled.emit()

    # -- costs ------------------------------------------------------------------------------
    def costs(self, model: Model, dims: dict[str, int] | None = None) -> None:
        """Compute ``model``'s costs (named dimensions as in ``dims``); the result of one still running is ignored."""
        self._costs_token += 1
        job = CostJob(self._costs_token, model, dims or {})
        job.done.connect(self._on_costs)
        job.failed.connect(self._on_costs_failed)
        self._start(job)
        self._costs_job = job

    def forget_costs(self) -> None:
        """Ignore the costs being computed (another model was opened)."""
        self._costs_token += 1
        self._costs_job = None

    def _on_costs(self, token: int, report: object) -> None:
        if token == self._costs_token:
            self._costs_job = None
            self.costs_ready.emit(report)

    def _on_costs_failed(self, token: int, message: str) -> None:
        if token == self._costs_token:
            self._costs_job = None
            self.costs_failed.emit(message)

    # -- running the model ------------------------------------------------------------------
    def run(self, model: Model, options: object) -> bool:
        """Run ``model`` with ``options`` (:class:`netray.run.RunOptions`); False while a run is in progress."""
        if self._run_job is not None:
            return False
        self._run_token += 1
        job = RunJob(self._run_token, model, options)
        job.progressed.connect(lambda token, done, total: self.run_progress.emit(done, total) if token == self._run_token else None)
        job.done.connect(self._on_run_done)
        job.failed.connect(self._on_run_failed)
        job.cancelled.connect(self._on_run_cancelled)
        self._start(job)
        self._run_job = job
        return True

    def cancel_run(self) -> bool:
        """Ask the run in progress to stop (the runtime polls the flag); False if none runs."""
        if self._run_job is None:
            return False
        self._run_job.cancel()
        return True

    def forget_run(self) -> None:
        """Stop the run in progress and ignore whatever it says (another model was opened)."""
        if self._run_job is not None:
            self._run_job.cancel()
        self._run_token += 1
        self._run_job = None

    def wait_for_run(self, timeout_s: float | None = None) -> bool:
        """Process events until no run is in progress (tests, snapshots); False on timeout."""
        app = QApplication.instance()
        start = time.monotonic()
        while self._run_job is not None:
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                return False
            if app is not None:
                app.processEvents()
            time.sleep(0.002)
        return True

    def _on_run_done(self, token: int, result: object, features: object) -> None:
        if token == self._run_token:
            self._run_job = None
            self.run_done.emit(result, features)

    def _on_run_failed(self, token: int, message: str) -> None:
        if token == self._run_token:
            self._run_job = None
            self.run_failed.emit(message)

    def _on_run_cancelled(self, token: int) -> None:
        if token == self._run_token:
            self._run_job = None
            self.run_cancelled.emit()

    # -- comparing two models ---------------------------------------------------------------
    @property
    def diffing(self) -> bool:
        """Two models are being compared (not part of :attr:`busy`: both graphs are usable meanwhile)."""
        return self._diff_job is not None

    def diff(self, a: Model, b: Model, weights: bool = True, tolerance: float = 0.0) -> None:
        """Compare ``a`` with ``b``; the result of a comparison still running is ignored."""
        self._diff_token += 1
        job = DiffJob(self._diff_token, a, b, weights, tolerance)
        job.done.connect(self._on_diff)
        job.failed.connect(self._on_diff_failed)
        self._start(job)
        self._diff_job = job

    def wait_for_diff(self, timeout_s: float | None = None) -> bool:
        """Process events until no comparison is in progress (tests, pictures); False on timeout."""
        app = QApplication.instance()
        start = time.monotonic()
        while self._diff_job is not None:
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                return False
            if app is not None:
                app.processEvents()
            time.sleep(0.002)
        return True

    def _on_diff(self, token: int, result: object) -> None:
        if token == self._diff_token:
            self._diff_job = None
            self.diff_ready.emit(result)

    def _on_diff_failed(self, token: int, message: str) -> None:
        if token == self._diff_token:
            self._diff_job = None
            self.diff_failed.emit(message)

    # -- all --------------------------------------------------------------------------------
    def cancel(self) -> str:
        """Esc: cancel the layout, else stop waiting for the file. Says which ("layout", "open", "")."""
        if self._layout_job is not None:
            self._layout_job.cancel()
            return "layout"
        if self._open_job is not None:
            self._open_token += 1  # its result will be ignored when it arrives
            self._open_job = None
            return "open"
        return ""

    def _start(self, job: QThread) -> None:
        job.finished.connect(lambda j=job: self._ended(j))
        self._running.add(job)
        job.start()

    def _ended(self, job: QThread) -> None:
        """A thread ended. Its result signal came first (same queue); if none did, it died silently."""
        self._running.discard(job)
        if job is self._layout_job:
            self._on_layout_failed(self._layout_token, "layout stopped without a result")
        elif job is self._open_job:
            self._on_open_failed(self._open_token, FormatError(self._opening, "", "reading stopped without a result"))
        elif job is self._costs_job:
            self._on_costs_failed(self._costs_token, "costs stopped without a result")
        elif job is self._run_job:
            self._on_run_failed(self._run_token, "the run stopped without a result")
        elif job is self._diff_job:
            self._on_diff_failed(self._diff_token, "the comparison stopped without a result")

    def stop_all(self, wait_ms: int = 5000) -> None:
        """Cancel what can be cancelled and wait for every thread (the window is closing)."""
        for job in list(self._running):
            if isinstance(job, (LayoutJob, RunJob)):
                job.cancel()
        for job in list(self._running):
            job.wait(wait_ms)
