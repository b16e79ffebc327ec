"""Run… off the UI thread: :func:`netray.run.run_model` in a QThread, with progress, Cancel and feature maps.

A :class:`RunJob` runs the model once (and backward, and a comparison, when asked)
and emits exactly one of ``done``, ``failed`` or ``cancelled``: a runtime's error, a
missing runtime (with what to install), or any bug of a runtime becomes one line for
a message box, never a traceback. Progress (values captured of all the graph names)
is reported at most every :data:`PROGRESS_EVERY_S`, so a model of many small values
does not flood the UI thread. :class:`FeatureMaps` keeps what the panel's grid of
feature maps needs of each 4-D float activation (the first sample, up to
:data:`MAX_CHANNELS` channels, channels first), within a memory budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from netray.costs import CHANNELS_LAST_FORMATS
from netray.errors import RunCancelled, RunError
from netray.ir import Model
from netray_viewer.layout_worker import CancelFlag

PROGRESS_EVERY_S = 0.05
MAX_CHANNELS = 64  # feature maps kept (and drawn) per activation
FEATURE_BUDGET = 256 * 2**20  # bytes of feature maps kept per run
HISTOGRAM_BINS = 32


def channels_last(model: Model) -> bool:
    """Whether ``model``'s 4-D activations are N,H,W,C (TFLite, Keras, TensorFlow) rather than N,C,H,W."""
    return model.format.startswith(CHANNELS_LAST_FORMATS)


@dataclass
class FeatureMaps:
    """The ``keep`` callable of a run: each 4-D float activation's first sample as (channels, height, width).

    Only what the grid draws is copied (at most :data:`MAX_CHANNELS` channels of the first
    sample) and the run's full arrays are never kept (it answers False), so a run keeps
    little beyond its statistics. Values past ``budget`` bytes are left out and named in
    :attr:`skipped`. Called on the run's thread; read once the run is done.
    """

    channels_last: bool = False
    budget: int = FEATURE_BUDGET
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    layout: dict[str, str] = field(default_factory=dict)  # value name -> "NCHW" or "NHWC"
    skipped: set[str] = field(default_factory=set)
    used: int = 0

    def __call__(self, name: str, array: np.ndarray) -> bool:
        a = np.asarray(array)
        if a.ndim != 4 or a.dtype.kind != "f" or a.shape[0] == 0:
            return False
        sample = a[0]
        chw = np.moveaxis(sample, -1, 0) if self.channels_last else sample
        chw = chw[:MAX_CHANNELS]
        if chw.size == 0:
            return False
        size = chw.size * 4
        if self.used + size > self.budget:
            self.skipped.add(name)
            return False
        self.maps[name] = np.array(chw, dtype=np.float32, copy=True)
        self.layout[name] = "NHWC" if self.channels_last else "NCHW"
        self.used += size
        return False


class RunJob(QThread):
    """Runs ``model`` with ``options`` (a :class:`netray.run.RunOptions`) in a worker thread."""

    progressed = pyqtSignal(int, int, int)  # token, values captured, values the graph names
    done = pyqtSignal(int, object, object)  # token, RunResult, FeatureMaps
    failed = pyqtSignal(int, str)  # token, one line
    cancelled = pyqtSignal(int)  # token

    def __init__(self, token: int, model: Model, options: object) -> None:
        super().__init__()
        self.token = token
        self.model = model
        self.options = options
        self.cancel_flag = CancelFlag()
        self.features = FeatureMaps(channels_last(model), budget=FEATURE_BUDGET)
        self._last = 0.0

    def cancel(self) -> None:
        self.cancel_flag.set()

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self.progressed.emit(self.token, done, total)

    def run(self) -> None:
        """Emit exactly one of done, failed or cancelled, whatever happens."""
        from netray.run import RunOptions, run_model  # imported here: the window starts without it

        try:
            assert isinstance(self.options, RunOptions)
            options = replace(
                self.options, bins=HISTOGRAM_BINS, keep=self.features, cancelled=self.cancel_flag, progress=self._progress
            )
            result = run_model(self.model, options)
        except RunCancelled:
            self.cancelled.emit(self.token)
            return
        except RunError as exc:
            if self.cancel_flag.is_set():
                self.cancelled.emit(self.token)
            else:
                self.failed.emit(self.token, str(exc))
            return
        except MemoryError:
            self.failed.emit(self.token, "the run needs more memory than there is")
            return
        except Exception as exc:  # a runtime's bug: one line, never a crash
            if self.cancel_flag.is_set():
                self.cancelled.emit(self.token)
            else:
                self.failed.emit(self.token, f"the run failed: {type(exc).__name__}: {exc}")
            return
        if self.cancel_flag.is_set():
            self.cancelled.emit(self.token)
            return
        self.done.emit(self.token, result, self.features)
