"""Running a model on its graph: what a plugin's runtime offers, and the statistics it reports.

A format plugin may offer to execute its format (contract 1.2, hook ``netray_runtime``)
with the format's own real runtime (onnxruntime, ai-edge-litert, torch, keras). A
:class:`Runtime` runs the model once on given inputs and hands every intermediate value
the graph names to a *capture* callback as it is produced, so that statistics are
computed on the fly and nothing is kept unless asked (:mod:`netray.run`). Runtimes are
optional extras of their plugin (``pip install netray-plugin-onnx[run]``): a plugin whose
runtime package is missing answers the hook with a :class:`RuntimeMissing` that says
what to install.

Values are named as the IR names them (``Value.name`` of the model netray loaded), so
statistics land on the graph's edges and their producers' nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from netray.errors import RunCancelled, RunError
from netray.value_stats import ValueStats, finite_histogram

__all__ = ["Capture", "Cancelled", "Difference", "RunCancelled", "RunError", "Runtime", "RuntimeMissing", "ValueStats", "finite_histogram", "is_runtime"]

Capture = Callable[[str, np.ndarray], None]
"""Called with (value name, array) for each value as the runtime produces it. The array may be
the runtime's own buffer, written again by its next run: copy it to keep it."""

Cancelled = Callable[[], bool]
"""Asked between steps; a runtime stops (raising :class:`RunCancelled`) when it returns True."""


@dataclass(frozen=True)
class RuntimeMissing:
    """A plugin's answer when the runtime for the format is not installed."""

    runtime: str  # "onnxruntime"
    install: str  # "pip install netray-plugin-onnx[run]"


@runtime_checkable
class Runtime(Protocol):
    """One model loaded into a real runtime, ready to run.

    ``name`` says which runtime ("onnxruntime", "onnx reference", "torch", "keras",
    "litert"); ``backward_supported`` whether :meth:`backward` works.
    """

    @property
    def name(self) -> str: ...

    @property
    def backward_supported(self) -> bool: ...

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        """Run once; call ``capture`` for every intermediate value (graph inputs, weights
        excluded); return the graph outputs by name. Raise :class:`RunError` on failure."""
        ...

    def backward(
        self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        """Gradients of the loss (the sum of the outputs, or the squared error to ``target``) with
        respect to every weight (returned by weight name) and every intermediate value (given to
        ``capture``, named by the value). Raise :class:`RunError` naming the op that cannot be
        differentiated."""
        ...


_RUNTIME_MEMBERS = ("name", "backward_supported", "forward", "backward")


def is_runtime(answer: object) -> bool:
    """Whether ``answer`` has the :class:`Runtime` protocol's members, judged without reading them.

    ``isinstance`` on the runtime-checkable protocol reads every property, and a runtime's
    ``backward_supported`` may import torch to answer (1.4 s for ONNX's onnx2torch) on every
    run, backward or not.
    """
    own = getattr(answer, "__dict__", {})
    return all(member in own or any(member in vars(k) for k in type(answer).__mro__) for member in _RUNTIME_MEMBERS)


@dataclass
class Difference:
    """How far one array is from a reference: the largest absolute and relative difference."""

    max_abs: float
    max_rel: float
    shape_mismatch: bool = False

    @classmethod
    def between(cls, value: np.ndarray, reference: np.ndarray) -> Difference:
        a, b = np.asarray(value), np.asarray(reference)
        if a.shape != b.shape:
            return cls(math.inf, math.inf, True)
        if a.size == 0:
            return cls(0.0, 0.0)
        if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            same = bool(np.array_equal(a, b))
            return cls(0.0 if same else math.inf, 0.0 if same else math.inf)
        x, y = a.astype(np.float64), b.astype(np.float64)
        both_nan = np.isnan(x) & np.isnan(y)
        same_inf = np.isinf(x) & (x == y)
        with np.errstate(invalid="ignore"):  # inf - inf: handled just below
            diff = np.where(both_nan | same_inf, 0.0, np.abs(x - y))
        diff = np.where(np.isnan(diff), math.inf, diff)
        scale = np.abs(y)
        rel = np.divide(diff, scale, out=np.where(diff > 0, math.inf, 0.0), where=scale > 0)
        return cls(float(diff.max()), float(rel.max()))

    def diverges(self, atol: float, rtol: float, reference_max_abs: float | None) -> bool:
        """True when the difference exceeds ``atol + rtol * max |reference|`` (Polygraphy-style)."""
        return self.max_abs > atol + rtol * (reference_max_abs or 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel}
