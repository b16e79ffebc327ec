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
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from netray.errors import RunCancelled, RunError

__all__ = ["Capture", "Cancelled", "Difference", "RunCancelled", "RunError", "Runtime", "RuntimeMissing", "ValueStats"]

SMALL = 16384  # elements up to which statistics are taken in float64 in one go

Capture = Callable[[str, np.ndarray], None]
"""Called with (value name, array) for each value as the runtime produces it."""

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


@dataclass
class ValueStats:
    """Summary statistics of one array, computed in float64 over its finite elements."""

    shape: tuple[int, ...]
    dtype: str
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    nonfinite: int
    zeros: int
    mean_abs: float | None = None
    max_abs: float | None = None
    norm: float | None = None  # L2 norm of the finite elements
    histogram: tuple[list[int], list[float]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, array: Any, bins: int = 0) -> ValueStats:
        """Statistics of ``array`` (anything numpy converts; bool and integers too).

        Few passes and no float64 copy: a run reduces every value of the model, and this
        is most of what capturing costs beyond the runtime (about 0.6 ms for a 3 MB float32
        activation). Sums of floats use numpy's pairwise summation in their own type, the sum
        of squares BLAS; ``std`` is ``sqrt(E[x²] - mean²)``. ``bins`` > 0 adds a histogram of
        the finite values (counts, edges).
        """
        a = np.asarray(array)
        shape = a.shape
        dtype = _dtype_name(a.dtype)
        if a.dtype.kind == "f" and 0 < a.size <= SMALL and bins <= 0:
            values = a.astype(np.float64).reshape(-1)
            low, high = float(values.min()), float(values.max())
            if math.isfinite(low) and math.isfinite(high):  # no NaN or Inf: the short way
                return cls._small(shape, dtype, values, low, high, int(values.size - np.count_nonzero(values)))
        if a.dtype.kind == "V" and a.dtype.names is None:  # ml_dtypes' bfloat16, float8 ...
            try:
                a = a.astype(np.float32)
            except (TypeError, ValueError):
                return cls(shape, dtype, None, None, None, None, 0, 0)
        if a.dtype.kind not in "biufc":
            return cls(shape, dtype, None, None, None, None, 0, 0)
        flat = np.abs(a).reshape(-1) if a.dtype.kind == "c" else a.reshape(-1)
        if flat.dtype.kind == "b":
            flat = flat.view(np.uint8)
        if flat.dtype.kind == "f" and flat.dtype.itemsize < 4:
            flat = flat.astype(np.float32)  # float16 and smaller: BLAS and exact sums need float32
        zeros = int(np.count_nonzero(flat == 0))  # 5x faster than counting the non-zero floats
        nonfinite = 0
        if flat.size and flat.dtype.kind == "f":
            low, high = flat.min(), flat.max()
            if not (math.isfinite(float(low)) and math.isfinite(float(high))):
                mask = np.isfinite(flat)
                nonfinite = int(flat.size - np.count_nonzero(mask))
                flat = flat[mask]
        if flat.size == 0:
            return cls(shape, dtype, None, None, None, None, nonfinite, zeros)
        low, high = float(flat.min()), float(flat.max())
        count = flat.size
        # Floats are summed in their own type (numpy's pairwise summation: relative error ~1e-7
        # for float32), integers in float64 so that they cannot overflow.
        wide = None if flat.dtype.kind == "f" else np.float64
        total = float(np.add.reduce(flat, dtype=wide))
        magnitudes = np.abs(flat) if flat.dtype.kind != "u" else flat
        absolute = float(np.add.reduce(magnitudes, dtype=wide))
        squares = float(np.vdot(flat, flat)) if flat.dtype.kind == "f" else float(np.add.reduce(np.square(flat, dtype=np.float64)))
        mean = total / count
        histogram = None
        if bins > 0:
            histogram = finite_histogram(flat, low, high, bins)
        return cls(
            shape,
            dtype,
            low,
            high,
            mean,
            math.sqrt(max(squares / count - mean * mean, 0.0)),
            nonfinite,
            zeros,
            absolute / count,
            max(abs(low), abs(high)),
            math.sqrt(squares),
            histogram,
        )

    @classmethod
    def _small(cls, shape: tuple[int, ...], dtype: str, values: np.ndarray, low: float, high: float, zeros: int) -> ValueStats:
        """The same figures for a small finite array, in float64 and fewer calls (per-call cost dominates there)."""
        count = values.size
        mean = float(values.sum()) / count
        squares = float(values @ values)
        return cls(
            shape, dtype, low, high, mean, math.sqrt(max(squares / count - mean * mean, 0.0)), 0, zeros,
            float(np.abs(values).sum()) / count, max(abs(low), abs(high)), math.sqrt(squares),
        )

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def to_json(self) -> dict[str, Any]:
        """The issue's schema: shape, dtype, min, max, mean, std, nonfinite, zeros (plus mean_abs, max_abs, norm)."""
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "nonfinite": self.nonfinite,
            "zeros": self.zeros,
            "mean_abs": self.mean_abs,
            "max_abs": self.max_abs,
            "norm": self.norm,
        }


_DTYPE_NAMES: dict[np.dtype[Any], str] = {}


def _dtype_name(dtype: np.dtype[Any]) -> str:
    """``str(dtype)``, remembered: numpy takes 5 us to spell a dtype, as long as a small value's statistics."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def finite_histogram(finite: np.ndarray, low: float, high: float, bins: int) -> tuple[list[int], list[float]]:
    """Counts and edges of finite values between ``low`` and ``high``.

    Edges are float64: numpy would build them in the data's float32, and they collapse in a
    narrow range far from 0 (the light ResNet-50's activations reach 1e18). A range too
    narrow even for float64 gets one bin.
    """
    edges = np.linspace(low, high, bins + 1) if high > low else np.linspace(low - 0.5, high + 0.5, bins + 1)
    if not bool(np.all(np.diff(edges) > 0)):
        edges = np.array([low, high if high > low else float(np.nextafter(low, np.inf))])
    counts, _ = np.histogram(finite, bins=edges)
    return [int(c) for c in counts], [float(e) for e in edges]


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
