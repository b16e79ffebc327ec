"""Summary statistics of the values a run captures (:class:`ValueStats`), one array or many at once.

A run reduces every value of the model, so this is most of what capturing costs beyond the
runtime itself. Two paths keep it small:

- a large array is read in few passes, with no float64 copy, and passes the signs make
  needless are skipped (a ReLU's output has no negative part to take |x| of);
- small arrays (:data:`SMALL` elements or fewer: most values of a transformer at short
  sequence lengths) are reduced together by :class:`StatsBatch`, concatenated in float64 and
  reduced per segment, because for them numpy's per-call cost (about 1 µs per call, a dozen
  calls per value) outweighs the arithmetic.

Histograms have equal-width bins between the finite minimum and maximum, with float64 edges:
a value falls in bin ``floor((x - low) * bins / (high - low))`` (the top edge in the last
bin), computed in the data's float32 where the range is wide enough for it to be exact to the
bin and in float64 elsewhere (numpy's ``histogram`` with explicit edges searches every value
among them: five times slower).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

__all__ = ["SMALL", "StatsBatch", "ValueStats", "finite_histogram"]

SMALL = 16384  # elements up to which statistics are taken in float64 (and batched)
_BATCH_ELEMENTS = 1 << 20  # a batch of small arrays is reduced when it holds this many elements


@dataclass
class ValueStats:
    """Summary statistics of one array, computed over its finite elements."""

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
    nan: int = 0  # of the non-finite elements, how many are NaN (the rest are infinities)

    @classmethod
    def of(cls, array: Any, bins: int = 0) -> ValueStats:
        """Statistics of ``array`` (anything numpy converts; bool and integers too).

        Sums of floats use numpy's pairwise summation in their own type, the sum of squares
        BLAS; ``std`` is ``sqrt(E[x²] - mean²)``. ``bins`` > 0 adds a histogram of the finite
        values (counts, edges).
        """
        a = np.asarray(array)
        shape = a.shape
        dtype = _dtype_name(a.dtype)
        if a.dtype.kind == "V" and a.dtype.names is None:  # ml_dtypes' bfloat16, float8 ...
            try:
                a = a.astype(np.float32)
            except (TypeError, ValueError):
                return cls(shape, dtype, None, None, None, None, 0, 0)
        if a.dtype.kind not in "biufc":
            return cls(shape, dtype, None, None, None, None, 0, 0)
        if a.dtype.kind in "biuf" and 0 < a.size <= SMALL:
            return _many([a], [shape], [dtype], bins)[0]
        return _one(a, shape, dtype, bins)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def to_json(self) -> dict[str, Any]:
        """The issue's schema: shape, dtype, min, max, mean, std, nonfinite, zeros (plus nan, mean_abs, max_abs, norm)."""
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "nonfinite": self.nonfinite,
            "nan": self.nan,
            "zeros": self.zeros,
            "mean_abs": self.mean_abs,
            "max_abs": self.max_abs,
            "norm": self.norm,
        }


class StatsBatch:
    """Statistics of many arrays, the small ones reduced together.

    ``add`` takes (key, array) in order; large or unusual arrays are reduced at once, small
    ones are copied (a runtime's array may be its own buffer) and reduced when the batch
    fills or at :meth:`flush`, which returns every (key, stats) added since the last flush,
    in the order added.
    """

    def __init__(self, bins: int = 0) -> None:
        self.bins = bins
        self._done: list[tuple[str, ValueStats | None]] = []  # None: waiting in the batch
        self._pending: list[np.ndarray] = []
        self._elements = 0

    def add(self, key: str, array: np.ndarray) -> None:
        if not isinstance(array, np.ndarray):  # a plugin's scalar or list: numpy's view of it
            array = np.asarray(array)
        size = array.size
        if 0 < size <= SMALL and array.dtype.kind in "biuf":
            self._pending.append(array.copy())
            self._done.append((key, None))
            self._elements += size
            if self._elements >= _BATCH_ELEMENTS:
                self._reduce()
        else:
            self._done.append((key, ValueStats.of(array, self.bins)))

    def flush(self) -> list[tuple[str, ValueStats]]:
        self._reduce()
        done = [(key, stats) for key, stats in self._done if stats is not None]
        self._done = []
        return done

    def _reduce(self) -> None:
        if not self._pending:
            return
        arrays = self._pending
        stats = iter(_many(arrays, [a.shape for a in arrays], [_dtype_name(a.dtype) for a in arrays], self.bins))
        self._done = [(key, s if s is not None else next(stats)) for key, s in self._done]
        self._pending, self._elements = [], 0


def _many(arrays: list[np.ndarray], shapes: list[tuple[int, ...]], dtypes: list[str], bins: int) -> list[ValueStats]:
    """Statistics of small, non-empty numeric arrays, reduced together in float64 (one numpy call
    per figure for all of them); an array with NaN or Inf takes the one-array path."""
    with np.errstate(all="ignore"):  # NaN and Inf are found below, and such arrays go the one-array way
        return _reduce_many(arrays, shapes, dtypes, bins)


def _reduce_many(arrays: list[np.ndarray], shapes: list[tuple[int, ...]], dtypes: list[str], bins: int) -> list[ValueStats]:
    values = np.concatenate(arrays, axis=None, dtype=np.float64)
    sizes = np.fromiter((a.size for a in arrays), np.int64, len(arrays))
    starts = np.zeros(len(arrays), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    lows = np.minimum.reduceat(values, starts)
    highs = np.maximum.reduceat(values, starts)
    totals = np.add.reduceat(values, starts)
    absolutes = np.add.reduceat(np.abs(values), starts)
    squares = np.add.reduceat(values * values, starts)
    zeros = np.add.reduceat(values == 0, starts, dtype=np.int64)
    means = totals / sizes
    stds = np.sqrt(np.maximum(squares / sizes - means * means, 0.0))
    finite = np.isfinite(lows) & np.isfinite(highs)
    histograms: list[Any] = [None] * len(arrays)
    if bins > 0:
        histograms = _segment_histograms(values, sizes, lows, highs, finite, bins)
    count = len(arrays)
    found = list(
        map(
            ValueStats, shapes, dtypes, lows.tolist(), highs.tolist(), means.tolist(), stds.tolist(), repeat(0, count),
            zeros.tolist(), (absolutes / sizes).tolist(), np.maximum(np.abs(lows), np.abs(highs)).tolist(),
            np.sqrt(squares).tolist(), histograms,
        )
    )  # one call per value, the dataclass's own: this loop is the per-value cost of a small model's run
    redo = ~finite if bins <= 0 else ~finite | np.fromiter((h is None for h in histograms), bool, count)
    for i in np.flatnonzero(redo).tolist():  # NaN or Inf, or a range too narrow for the batch's bins
        found[i] = _one(arrays[i], shapes[i], dtypes[i], bins)
    return found


def _one(a: np.ndarray, shape: tuple[int, ...], dtype: str, bins: int) -> ValueStats:
    """Statistics of one numeric array (bool, integer, float, complex by magnitude) in few passes."""
    flat = np.abs(a).reshape(-1) if a.dtype.kind == "c" else a.reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.view(np.uint8)
    if flat.dtype.kind == "f" and flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)  # float16 and smaller: BLAS and exact sums need float32
    if flat.size == 0:
        return ValueStats(shape, dtype, None, None, None, None, 0, 0)
    nonfinite = nan = 0
    low, high = float(flat.min()), float(flat.max())
    if not (math.isfinite(low) and math.isfinite(high)):  # NaN or Inf somewhere: leave them out
        mask = np.isfinite(flat)
        nonfinite = int(flat.size - np.count_nonzero(mask))
        nan = int(np.count_nonzero(np.isnan(flat)))
        flat = flat[mask]
        if flat.size == 0:
            return ValueStats(shape, dtype, None, None, None, None, nonfinite, 0, nan=nan)
        low, high = float(flat.min()), float(flat.max())
    zeros = int(np.count_nonzero(flat == 0)) if low <= 0 <= high else 0  # 5x faster than counting non-zero floats
    count = flat.size
    # Floats are summed in their own type (numpy's pairwise summation: relative error ~1e-7
    # for float32), integers in float64 so that they cannot overflow.
    wide = None if flat.dtype.kind == "f" else np.float64
    total = float(np.add.reduce(flat, dtype=wide))
    if low >= 0:  # no negative part: |x| is x (a ReLU's output, counts, masks)
        absolute = total
    elif high <= 0:
        absolute = -total
    else:
        absolute = float(np.add.reduce(np.abs(flat), dtype=wide))
    squares = float(np.vdot(flat, flat)) if flat.dtype.kind == "f" else float(np.add.reduce(np.square(flat, dtype=np.float64)))
    mean = total / count
    return ValueStats(
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
        finite_histogram(flat, low, high, bins) if bins > 0 else None,
        nan,
    )


def _segment_histograms(
    values: np.ndarray, sizes: np.ndarray, lows: np.ndarray, highs: np.ndarray, finite: np.ndarray, bins: int
) -> list[tuple[list[int], list[float]] | None]:
    """Each segment's histogram (None where its values are not finite or its range is too narrow for float64)."""
    count = len(sizes)
    lows, highs = np.where(finite, lows, 0.0), np.where(finite, highs, 0.0)
    single = highs <= lows  # one value: a unit range around it, as finite_histogram makes
    first, width = np.where(single, lows - 0.5, lows), np.where(single, 1.0, highs - lows)
    # A range narrower than a few float64 steps at its magnitude has no `bins` distinct edges.
    usable = finite & (width > 4 * bins * np.spacing(np.maximum(np.abs(first), np.abs(first + width))))
    scale = np.where(usable, bins / np.where(usable, width, 1.0), 0.0)
    index = (values - np.repeat(first, sizes)) * np.repeat(scale, sizes)
    index = np.nan_to_num(index, nan=0.0, posinf=0.0, neginf=0.0)
    bin_of = np.clip(index.astype(np.int64), 0, bins - 1)
    bin_of += np.repeat(np.arange(count, dtype=np.int64) * bins, sizes)
    counts = np.bincount(bin_of, minlength=count * bins).reshape(count, bins).tolist()
    steps = np.arange(bins + 1, dtype=np.float64) / bins
    edges = first[:, None] + width[:, None] * steps
    edges[:, -1] = first + width
    edge_rows = edges.tolist()
    return [(counts[i], edge_rows[i]) if ok else None for i, ok in enumerate(usable.tolist())]


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
    first, width = (low - 0.5, 1.0) if high <= low else (low, high - low)
    if not width > 4 * bins * float(np.spacing(max(abs(first), abs(first + width)))):
        top = high if high > low else float(np.nextafter(low, np.inf))
        return [int(finite.size)], [low, top]
    # float32 arithmetic places a value in the right bin when a bin spans many float32 steps.
    data = finite
    if not (finite.dtype == np.float32 and width > 4096 * bins * float(np.spacing(np.float32(max(abs(first), abs(first + width)))))):
        data = finite.astype(np.float64)
    dtype = data.dtype.type
    index = (data - dtype(first)) * dtype(bins / width)
    bin_of = index.astype(np.intp)
    np.clip(bin_of, 0, bins - 1, out=bin_of)
    counts = np.bincount(bin_of, minlength=bins)
    edges = [first + width * (i / bins) for i in range(bins)] + [first + width]
    return counts.tolist(), edges
