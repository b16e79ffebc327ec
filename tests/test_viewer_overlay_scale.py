"""Overlay scales and colours without a window: numbers to steps, steps to colours, per-item values."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("PyQt6")

from PyQt6.QtGui import QColor

from netray.metrics import Metric
from netray_viewer.colour_scale import BELOW_LOG, BINS, NO_NUMBER, Ramp, Scale, text_on
from netray_viewer.theme import dark_theme, light_theme


def test_a_linear_scale_spans_the_numbers_and_leaves_no_number_out() -> None:
    scale = Scale.of(np.array([10.0, 20.0, 30.0, np.nan]))
    assert scale is not None and (scale.low, scale.high) == (10.0, 30.0)
    t = scale.position(np.array([10.0, 20.0, 30.0, np.nan]))
    assert t[:3].tolist() == [0.0, 0.5, 1.0] and math.isnan(t[3])
    bins = scale.bins(np.array([10.0, 30.0, np.nan]))
    assert bins.tolist() == [0, BINS - 1, NO_NUMBER]


def test_a_log_scale_spreads_decades_evenly_and_leaves_zero_off_the_ramp() -> None:
    scale = Scale.of(np.array([0.0, 1e3, 1e6, 1e9]), log=True)
    assert scale is not None and (scale.low, scale.high) == (1e3, 1e9)
    assert scale.position(np.array([1e3, 1e6, 1e9])).tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert scale.bins(np.array([0.0, -5.0]))[0] == BELOW_LOG == scale.bins(np.array([-5.0]))[0]
    # Without a positive number there is no log scale: linear instead.
    linear = Scale.of(np.array([0.0, -2.0]), log=True)
    assert linear is not None and not linear.log


def test_a_diverging_scale_puts_zero_at_the_centre() -> None:
    scale = Scale.of(np.array([-2.0, 0.0, 8.0]), diverging=True)
    assert scale is not None and (scale.low, scale.high) == (-8.0, 8.0)
    assert scale.position(np.array([-8.0, 0.0, 8.0])).tolist() == [0.0, 0.5, 1.0]
    symlog = Scale.of(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]), log=True, diverging=True)
    assert symlog is not None
    t = symlog.position(np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0]))
    assert t[2] == 0.5 and t[0] == 0.0 and t[4] == 1.0
    assert 0.5 < t[3] < 0.75  # the smallest magnitude is still clearly off the centre
    assert t[1] == pytest.approx(1 - t[3])


def test_ramps_differ_from_the_neutral_grey_and_text_stays_readable() -> None:
    for theme in (light_theme(), dark_theme()):
        for diverging in (False, True):
            ramp = Ramp.of(theme.name, diverging, theme.background)
            assert len(ramp.fills) == BINS
            assert len({c.name() for c in ramp.fills}) > BINS // 2
            assert ramp.neutral.name() not in {c.name() for c in ramp.fills}
            for fill, text in zip(ramp.fills, ramp.texts, strict=True):
                assert _contrast(fill, text) >= 4.0, (theme.name, fill.name(), text.name())
        low = Ramp.of(theme.name, False, theme.background).fills[0]
        assert _contrast(low, theme.background) > 1.5  # the low end is not lost on the background
    diverging = Ramp.of("light", True, light_theme().background)
    centre = diverging.fills[BINS // 2]
    assert centre.lightness() > 200 and diverging.fills[0].blue() > diverging.fills[0].red()
    assert diverging.fills[-1].red() > diverging.fills[-1].blue()
    assert text_on(QColor("#000000")).name() == "#ffffff"


def test_a_group_value_follows_the_metric_aggregate() -> None:
    metric = Metric("peak", {"a": 1.0, "b": 5.0}, aggregate="max")
    assert metric.group_value(["a", "b", "c"]) == 5.0
    assert Metric("total", {"a": 1.0, "b": 5.0}).group_value(["a", "b"]) == 6.0


def _contrast(a: QColor, b: QColor) -> float:
    def luminance(c: QColor) -> float:
        def linear(v: float) -> float:
            return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * linear(c.redF()) + 0.7152 * linear(c.greenF()) + 0.0722 * linear(c.blueF())

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
