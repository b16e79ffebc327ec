"""A metric painted on a scene: which metric and scale (:class:`OverlayState`), and each box's colour (:class:`OverlayPaint`).

An operation's box takes its node's number; a collapsed group's box takes
:meth:`netray.metrics.Metric.group_value` of every operation inside it; inputs,
outputs and frames keep their usual colours. The scale spans the boxes shown, so
collapsed groups are compared with each other and operations with operations.

The painter groups boxes by a *colour key* per item, as it groups them by category
without an overlay: keys ``0..BINS-1`` are the ramp's steps, ``BINS`` is "no number"
(grey, hatched), ``BINS + 1`` zero on a log scale (off the ramp, nearly the
background), and ``BINS + 2 + c`` is category ``c``'s usual colour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PyQt6.QtGui import QColor, QPainterPath

from netray.hierarchy import Hierarchy
from netray.metrics import Metric
from netray.scene import ItemKind, Scene
from netray_viewer.colour_scale import BELOW_LOG, BINS, Ramp, Scale
from netray_viewer.geometry import BANDS, Banded, SceneGeometry, rects_path
from netray_viewer.theme import Theme

NEUTRAL_KEY = BINS
OFF_SCALE_KEY = BINS + 1
CATEGORY_KEYS = BINS + 2


@dataclass(frozen=True)
class OverlayState:
    """The metric the graph is coloured by (None: usual colours) and how."""

    metric: Metric | None = None
    log: bool = False
    diverging: bool = False

    @classmethod
    def of(cls, metric: Metric | None) -> OverlayState:
        """``metric`` with the scale it asks for (:attr:`Metric.log`, :attr:`Metric.diverging`)."""
        return cls(metric, metric.log, metric.diverging) if metric is not None else cls()


def item_values(scene: Scene, hierarchy: Hierarchy | None, metric: Metric) -> np.ndarray:
    """Each item's number: its node's, or its collapsed group's total; NaN for none, for unknown and for frames and values."""
    values = np.full(scene.size, np.nan)
    table, unknown = metric.values, metric.unknown
    nodes = scene.graph.nodes
    node, group = int(ItemKind.NODE), int(ItemKind.GROUP)
    for i, (kind, ref) in enumerate(zip(scene.kind.tolist(), scene.ref, strict=True)):
        if kind == node:
            number = table.get(ref.id)
            if number is not None and ref.id not in unknown and not math.isnan(number):
                values[i] = number
        elif kind == group and hierarchy is not None:
            members = [nodes[k].id for k in hierarchy.order[ref.start : ref.end].tolist()]
            total = metric.group_value(m for m in members if m not in unknown)
            if total is not None:
                values[i] = total
    return values


class OverlayPaint:
    """The colour key of every item of one scene under one overlay, and the colours of each key per theme."""

    def __init__(self, scene: Scene, state: OverlayState, values: np.ndarray, category_code: np.ndarray, category_names: Sequence[str]) -> None:
        self.scene = scene
        self.state = state
        self.values = values
        coloured = (scene.kind == ItemKind.NODE) | (scene.kind == ItemKind.GROUP)
        self.scale = Scale.of(values[coloured], state.log, state.diverging)
        bins = self.scale.bins(values) if self.scale is not None else np.full(scene.size, -1, np.int16)
        keys = np.where(bins >= 0, bins, np.where(bins == BELOW_LOG, OFF_SCALE_KEY, NEUTRAL_KEY))
        self.key = np.where(coloured, keys, CATEGORY_KEYS + category_code).astype(np.int64)
        self.category_names = list(category_names)
        self.unknown_count = int((coloured & np.isnan(values)).sum())
        self.off_scale_count = int((coloured & (bins == BELOW_LOG)).sum())
        self._ramps: dict[str, Ramp] = {}
        self._bands: dict[int, Banded] | None = None

    @classmethod
    def of(cls, scene: Scene, hierarchy: Hierarchy | None, state: OverlayState, geometry: SceneGeometry) -> OverlayPaint | None:
        if state.metric is None:
            return None
        values = item_values(scene, hierarchy, state.metric)
        return cls(scene, state, values, geometry.category_code, geometry.category_names)

    def ramp(self, theme: Theme) -> Ramp:
        got = self._ramps.get(theme.name)
        if got is None:
            got = self._ramps[theme.name] = Ramp.of(theme.name, self.state.diverging, theme.background)
        return got

    def category(self, key: int) -> str | None:
        """The category whose usual colours ``key`` stands for; None for a ramp step or "no number"."""
        return self.category_names[key - CATEGORY_KEYS] if key >= CATEGORY_KEYS else None

    def header(self, key: int, theme: Theme) -> QColor:
        """A one-line box's fill and a title band's colour."""
        category = self.category(key)
        if category is not None:
            return theme.header(category)
        ramp = self.ramp(theme)
        return ramp.neutral if key == NEUTRAL_KEY else ramp.off_scale if key == OFF_SCALE_KEY else ramp.fills[key]

    def body(self, key: int, theme: Theme) -> QColor:
        """The body of a box with lines under its title band (and of inputs and outputs)."""
        category = self.category(key)
        if category is not None:
            return theme.fill(category)
        ramp = self.ramp(theme)
        return ramp.neutral_body if key == NEUTRAL_KEY else ramp.off_scale if key == OFF_SCALE_KEY else ramp.bodies[key]

    def title_text(self, key: int, theme: Theme) -> QColor:
        if key >= CATEGORY_KEYS:
            return theme.header_text
        if key == OFF_SCALE_KEY:
            return theme.text
        ramp = self.ramp(theme)
        return ramp.neutral_text if key == NEUTRAL_KEY else ramp.texts[key]

    def bands(self, geometry: SceneGeometry) -> dict[int, Banded]:
        """Whole-scene paths per colour key in bands, as :meth:`SceneGeometry.build_whole_paths` builds per category."""
        if self._bands is None:
            scene = self.scene
            left, top, right, bottom = scene.bounds()
            if geometry.vertical:
                low, high, start, extent = scene.y, scene.y + scene.h, top, bottom - top
            else:
                low, high, start, extent = scene.x, scene.x + scene.w, left, right - left
            width = max(extent / BANDS, 1e-9)
            boxes = np.flatnonzero(scene.kind != ItemKind.FRAME)
            keys = self.key[boxes]
            self._bands = {}
            def paths_of(members: np.ndarray) -> Callable[[np.ndarray], QPainterPath]:
                return lambda k: rects_path(scene, members[k])

            for key in np.unique(keys).tolist():
                members = boxes[keys == key]
                self._bands[key] = Banded.of(low[members], high[members], start, width, paths_of(members))
        return self._bands
