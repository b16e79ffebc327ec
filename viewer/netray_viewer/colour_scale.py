"""Numbers to colours for overlays: a scale (linear or log, sequential or diverging) and a ramp per theme.

:class:`Scale` maps numbers to positions in [0, 1] (NaN stays NaN: no number); a
ramp gives the colour at a position. Positions are cut into :data:`BINS` steps so the
painter fills one path per step, whatever the graph's size, and the legend shows the
same steps. Sequential ramps are viridis-like (perceptually even, readable in both
themes); diverging ones run blue, through a pale centre at 0, to red. Boxes without a
number are grey and hatched, unlike any step of either ramp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PyQt6.QtGui import QColor

BINS = 32  # colour steps of a ramp: one path per step

# Viridis' stops; the dark theme's ramp starts a little higher, clear of the dark background.
SEQUENTIAL = {
    "light": ("#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"),
    "dark": ("#48287f", "#3e4a89", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"),
}
DIVERGING = {
    "light": ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f2f2f2", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"),
    "dark": ("#3a7cc4", "#5a9fd0", "#95c4df", "#c9dceb", "#e6e6e6", "#f3cfbd", "#f09a78", "#dc6551", "#c1333a"),
}
# No number (or an unknown one): grey, with a hatch in a second grey.
NEUTRAL = {"light": ("#d2d2d2", "#9c9c9c"), "dark": ("#3b3e44", "#6d7179")}
# Zero (and below) on a sequential log scale, which has no place for it: nearly the background.
OFF_SCALE = {"light": "#f1f1f1", "dark": "#2a2c31"}
NO_NUMBER, BELOW_LOG = -1, -2  # what Scale.bins gives instead of a step
DARK_TEXT, LIGHT_TEXT = QColor("#101010"), QColor("#ffffff")


@dataclass(frozen=True)
class Scale:
    """Where each number falls on a ramp: ``low`` at 0, ``high`` at 1 (and ``centre`` = 0 at 0.5 when diverging).

    A log scale needs positive numbers: a sequential one leaves zero and below off the
    ramp (:data:`BELOW_LOG`: most operations have no MACs, and they are not "a little");
    a diverging one is symmetric-log around 0, ``linear_width`` the smallest nonzero
    magnitude. Without a positive number a log scale falls back to linear.
    """

    low: float
    high: float
    log: bool = False
    diverging: bool = False
    linear_width: float = 1.0

    @classmethod
    def of(cls, values: np.ndarray, log: bool = False, diverging: bool = False) -> Scale | None:
        """The scale spanning the finite ``values``; None when there is none."""
        finite = values[np.isfinite(values)]
        if not finite.size:
            return None
        if diverging:
            magnitude = float(np.abs(finite).max()) or 1.0
            nonzero = np.abs(finite[finite != 0])
            width = float(nonzero.min()) if nonzero.size else magnitude
            return cls(-magnitude, magnitude, log, True, width)
        positive = finite[finite > 0]
        if log and positive.size:
            return cls(float(positive.min()), float(positive.max()), True)
        return cls(float(finite.min()), float(finite.max()))

    def position(self, values: np.ndarray) -> np.ndarray:
        """Each number's place in [0, 1]; NaN where there is no number."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.diverging:
                if self.log:
                    span = math.log1p(self.high / self.linear_width)
                    t = 0.5 + 0.5 * np.sign(v) * np.log1p(np.abs(v) / self.linear_width) / span
                else:
                    t = 0.5 + 0.5 * v / self.high
            elif self.high <= self.low:
                t = np.where(np.isnan(v), np.nan, 0.5)
            elif self.log:
                lo, hi = math.log10(self.low), math.log10(self.high)
                t = (np.log10(np.maximum(v, self.low)) - lo) / (hi - lo)
            else:
                t = (v - self.low) / (self.high - self.low)
        return np.where(np.isnan(v), np.nan, np.clip(t, 0.0, 1.0))

    @property
    def leaves_out_low(self) -> bool:
        """Numbers at or below zero fall off this scale (a sequential log scale)."""
        return self.log and not self.diverging

    def bins(self, values: np.ndarray) -> np.ndarray:
        """Each number's step 0..BINS-1; NO_NUMBER where there is none, BELOW_LOG for zero and below on a log scale."""
        v = np.asarray(values, dtype=np.float64)
        t = self.position(v)
        known = ~np.isnan(t)
        out = np.full(len(t), NO_NUMBER, dtype=np.int16)
        out[known] = np.minimum((t[known] * BINS).astype(np.int16), BINS - 1)
        if self.leaves_out_low:
            with np.errstate(invalid="ignore"):
                out[known & (v <= 0)] = BELOW_LOG
        return out

    @property
    def name(self) -> str:
        return ("log" if self.log else "linear") + (", diverging" if self.diverging else "")


def _mix(a: QColor, b: QColor, share_of_b: float) -> QColor:
    k = share_of_b
    return QColor.fromRgbF(
        a.redF() * (1 - k) + b.redF() * k,
        a.greenF() * (1 - k) + b.greenF() * k,
        a.blueF() * (1 - k) + b.blueF() * k,
    )


def ramp_colour(stops: tuple[str, ...], t: float) -> QColor:
    """The colour at ``t`` in [0, 1] along evenly spaced ``stops``."""
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    k = min(int(t), len(stops) - 2)
    return _mix(QColor(stops[k]), QColor(stops[k + 1]), t - k)


def text_on(colour: QColor) -> QColor:
    """Black or white, whichever reads better on ``colour`` (by relative luminance)."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())
    return DARK_TEXT if luminance > 0.179 else LIGHT_TEXT  # equal contrast either way at 0.179


@dataclass
class Ramp:
    """The colours of one theme's ramp, step by step: box fills, tinted bodies and title text."""

    fills: list[QColor]
    bodies: list[QColor]  # a box's body under its title band: the step's colour faint on the background
    texts: list[QColor]
    neutral: QColor
    neutral_body: QColor
    hatch: QColor
    neutral_text: QColor
    off_scale: QColor

    @classmethod
    def of(cls, theme_name: str, diverging: bool, background: QColor, body_share: float = 0.3) -> Ramp:
        key = "dark" if theme_name == "dark" else "light"
        stops = (DIVERGING if diverging else SEQUENTIAL)[key]
        fills = [ramp_colour(stops, (k + 0.5) / BINS) for k in range(BINS)]
        neutral, hatch = (QColor(c) for c in NEUTRAL[key])
        return cls(
            fills=fills,
            bodies=[_mix(background, c, body_share) for c in fills],
            texts=[text_on(c) for c in fills],
            neutral=neutral,
            neutral_body=_mix(background, neutral, 0.5),
            hatch=hatch,
            neutral_text=text_on(neutral),
            off_scale=QColor(OFF_SCALE[key]),
        )
