"""Run statistics and differences against plain numpy in float64."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from netray.runtime import Difference, ValueStats
from netray.value_stats import StatsBatch


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
    assert stats.nonfinite == 2 and stats.nan == 1 and stats.zeros == 1
    assert (stats.min, stats.max, stats.mean) == (0.0, 3.0, pytest.approx(4 / 3))
    only_nan = ValueStats.of(np.full(4, np.nan, dtype=np.float32))
    assert only_nan.nonfinite == 4 and only_nan.nan == 4 and only_nan.mean is None
    large = np.zeros(100_000, np.float32)
    large[[5, 7]] = np.inf
    assert (ValueStats.of(large).nonfinite, ValueStats.of(large).nan) == (2, 0)


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


def _same_stats(batched: ValueStats, alone: ValueStats) -> None:
    assert (batched.shape, batched.dtype, batched.nonfinite, batched.zeros) == (alone.shape, alone.dtype, alone.nonfinite, alone.zeros)
    for figure in ("min", "max", "mean", "std", "mean_abs", "max_abs", "norm"):
        mine, theirs = getattr(batched, figure), getattr(alone, figure)
        assert (mine is None) == (theirs is None), figure
        if mine is not None:
            assert mine == pytest.approx(theirs, rel=1e-6, abs=1e-9), figure
    assert (batched.histogram is None) == (alone.histogram is None)
    if batched.histogram is not None and alone.histogram is not None:
        assert batched.histogram[1] == pytest.approx(alone.histogram[1], rel=1e-12)
        assert sum(batched.histogram[0]) == sum(alone.histogram[0])


@pytest.mark.parametrize("bins", [0, 16])
def test_a_batch_gives_each_array_its_own_statistics_in_order(bins: int) -> None:
    """Small arrays reduced together equal each reduced alone; large, NaN-holding, empty, bool,
    integer, float16 and string arrays go their own way; the order is the order added."""
    rng = np.random.default_rng(3)
    arrays = {
        "relu": np.maximum(rng.standard_normal((4, 8)), 0).astype(np.float32),
        "ids": rng.integers(-5, 1000, (2, 7)).astype(np.int64),
        "mask": rng.integers(0, 2, (3, 3)).astype(bool),
        "half": rng.standard_normal(100).astype(np.float16),
        "nan": np.array([1.0, np.nan, -np.inf, 2.0], np.float32),
        "large": rng.standard_normal((3, 100, 100)).astype(np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "one": np.array([7.0], np.float32),
        "text": np.array(["a", "b"]),
        "negative": -np.abs(rng.standard_normal(50)),
    }
    batch = StatsBatch(bins)
    for name, array in arrays.items():
        batch.add(name, array)
    found = batch.flush()
    assert [name for name, _ in found] == list(arrays)
    for name, stats in found:
        _same_stats(stats, ValueStats.of(arrays[name], bins))
    assert batch.flush() == []


def test_a_batch_copies_the_arrays_it_waits_with() -> None:
    buffer = np.arange(12, dtype=np.float32).reshape(3, 4)
    batch = StatsBatch()
    batch.add("x", buffer)
    buffer[:] = -1  # the runtime writes its next run into the same buffer
    [(_, stats)] = batch.flush()
    assert (stats.min, stats.max, stats.mean) == (0.0, 11.0, 5.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histogram_counts_equal_numpys_on_the_same_edges(dtype: type) -> None:
    """Large float32 data is binned in float32, float64 in float64; both count as numpy does with
    our edges (values are placed mid-bin so that rounding at an edge cannot decide)."""
    rng = np.random.default_rng(5)
    bins = 32
    where = rng.integers(0, bins, 300_000)
    array = (-3.0 + (where + rng.uniform(0.05, 0.95, where.size)) * (6.0 / bins)).astype(dtype)
    array[:2] = [-3.0, 3.0]  # the range's ends: the top edge belongs to the last bin
    stats = ValueStats.of(array, bins=bins)
    assert stats.histogram is not None
    counts, edges = stats.histogram
    assert (edges[0], edges[-1]) == (-3.0, 3.0)
    expected, _ = np.histogram(array.astype(np.float64), bins=np.array(edges))
    assert counts == expected.tolist()
    small = ValueStats.of(array[:5000], bins=bins)  # the batched (float64) path, same rule
    assert small.histogram is not None
    expected_small, _ = np.histogram(array[:5000].astype(np.float64), bins=np.array(small.histogram[1]))
    assert small.histogram[0] == expected_small.tolist()


def test_a_runtime_is_recognised_without_reading_its_properties() -> None:
    """The plugin manager asks is_runtime, not isinstance on the protocol: that reads every property,
    and ONNX's backward_supported imports torch (1.4 s) just to answer."""
    from netray.runtime import is_runtime

    class Lazy:
        name = "lazy"

        @property
        def backward_supported(self) -> bool:
            raise AssertionError("read")

        def forward(self, inputs: object, capture: object, cancelled: object) -> dict[str, np.ndarray]:
            return {}

        def backward(self, inputs: object, target: object, capture: object, cancelled: object) -> dict[str, np.ndarray]:
            return {}

    class Named:  # the name set per instance
        backward_supported = False

        def __init__(self) -> None:
            self.name = "named"

        forward = Lazy.forward
        backward = Lazy.backward

    assert is_runtime(Lazy()) and is_runtime(Named())
    assert not is_runtime(object()) and not is_runtime(None) and not is_runtime("onnxruntime")
