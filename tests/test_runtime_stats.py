"""Run statistics and differences against plain numpy in float64."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from netray.runtime import Difference, ValueStats


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int32, np.uint8])
@pytest.mark.parametrize("shape", [(3, 17, 9), (2, 64, 56, 56)], ids=["small", "large"])
def test_stats_equal_numpy(dtype: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    array: np.ndarray = (rng.standard_normal(shape) * 20 + 3).astype(dtype)
    array.reshape(-1)[::7] = 0
    stats = ValueStats.of(array, bins=8)
    exact = array.astype(np.float64)
    assert (stats.min, stats.max) == (exact.min(), exact.max())
    assert stats.mean == pytest.approx(exact.mean(), rel=1e-5, abs=1e-9)
    assert stats.std == pytest.approx(exact.std(), rel=1e-5)
    assert stats.mean_abs == pytest.approx(np.abs(exact).mean(), rel=1e-6)
    assert stats.norm == pytest.approx(math.sqrt(float((exact**2).sum())), rel=1e-5)
    assert stats.zeros == int((exact == 0).sum()) and stats.nonfinite == 0
    assert stats.histogram is not None and sum(stats.histogram[0]) == array.size


def test_nonfinite_are_counted_and_left_out() -> None:
    array = np.array([1.0, np.nan, -np.inf, 3.0, 0.0], dtype=np.float32)
    stats = ValueStats.of(array)
    assert stats.nonfinite == 2 and stats.zeros == 1
    assert (stats.min, stats.max, stats.mean) == (0.0, 3.0, pytest.approx(4 / 3))
    only_nan = ValueStats.of(np.full(4, np.nan, dtype=np.float32))
    assert only_nan.nonfinite == 4 and only_nan.mean is None


def test_bfloat16_bool_and_strings() -> None:
    stats = ValueStats.of(np.array([1.5, -2.0], dtype=ml_dtypes.bfloat16))
    assert (stats.min, stats.max, stats.dtype) == (-2.0, 1.5, "bfloat16")
    assert ValueStats.of(np.array([True, False, True])).mean == pytest.approx(2 / 3)
    assert ValueStats.of(np.array(["a", "b"])).mean is None


def test_differences() -> None:
    reference = np.array([1.0, 2.0, np.nan, np.inf, 0.0], dtype=np.float32)
    same = Difference.between(reference.copy(), reference)
    assert (same.max_abs, same.max_rel) == (0.0, 0.0)  # NaN where both are, equal infinities: no difference
    moved = reference.copy()
    moved[1] = 2.5
    d = Difference.between(moved, reference)
    assert (d.max_abs, d.max_rel) == (0.5, 0.25)
    assert d.diverges(atol=1e-4, rtol=1e-3, reference_max_abs=2.0)
    assert not d.diverges(atol=0.6, rtol=0.0, reference_max_abs=2.0)
    nan_where_finite = reference.copy()
    nan_where_finite[0] = np.nan
    assert Difference.between(nan_where_finite, reference).max_abs == math.inf
    assert Difference.between(np.zeros(2), np.zeros(3)).shape_mismatch


def test_histogram_far_from_zero_keeps_its_bins() -> None:
    """float32 data in a narrow range around 1e8: the edges are made in float64."""
    array = np.array([1e8, 1e8 + 8] * 10_000, dtype=np.float32)
    stats = ValueStats.of(array, bins=32)
    assert stats.histogram is not None
    counts, edges = stats.histogram
    assert (counts[0], counts[-1], len(edges)) == (10_000, 10_000, 33)
    constant = ValueStats.of(np.full(20_000, 3.0, dtype=np.float32), bins=4)
    assert constant.histogram is not None and sum(constant.histogram[0]) == 20_000
