"""Many boxes as one QPainterPath, built from arrays: rectangles, rounded rectangles, title bands.

Each shape is a fixed sequence of path elements whose coordinates are the box's
``x + a*w + b*r`` and ``y + c*h + d*r`` (``r`` the corner radius); a table of those
coefficients per element turns thousands of boxes into one path with a few numpy
operations, written through :func:`~netray_viewer.edge_paths.stream_path`. Rounded
corners are the usual cubic quarter circles.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QPainterPath

from netray_viewer.edge_paths import CURVE_DATA, CURVE_TO, LINE_TO, MOVE_TO, stream_path

KAPPA = 0.5522847498  # cubic Bezier control distance for a quarter circle of radius 1
_K = 1 - KAPPA

# (element type, x: a*w + b*r, y: c*h + d*r) per element, clockwise from the top-left corner's end.
_ROUNDED = np.array(
    [
        (MOVE_TO, 0, 1, 0, 0),
        (LINE_TO, 1, -1, 0, 0),
        (CURVE_TO, 1, -_K, 0, 0),
        (CURVE_DATA, 1, 0, 0, _K),
        (CURVE_DATA, 1, 0, 0, 1),
        (LINE_TO, 1, 0, 1, -1),
        (CURVE_TO, 1, 0, 1, -_K),
        (CURVE_DATA, 1, -_K, 1, 0),
        (CURVE_DATA, 1, -1, 1, 0),
        (LINE_TO, 0, 1, 1, 0),
        (CURVE_TO, 0, _K, 1, 0),
        (CURVE_DATA, 0, 0, 1, -_K),
        (CURVE_DATA, 0, 0, 1, -1),
        (LINE_TO, 0, 0, 0, 1),
        (CURVE_TO, 0, 0, 0, _K),
        (CURVE_DATA, 0, _K, 0, 0),
        (CURVE_DATA, 0, 1, 0, 0),
    ]
)
# A band along the top of a box: rounded top corners, straight bottom (h is the band's height).
_TOP_BAND = np.array(
    [
        (MOVE_TO, 0, 0, 1, 0),
        (LINE_TO, 0, 0, 0, 1),
        (CURVE_TO, 0, 0, 0, _K),
        (CURVE_DATA, 0, _K, 0, 0),
        (CURVE_DATA, 0, 1, 0, 0),
        (LINE_TO, 1, -1, 0, 0),
        (CURVE_TO, 1, -_K, 0, 0),
        (CURVE_DATA, 1, 0, 0, _K),
        (CURVE_DATA, 1, 0, 0, 1),
        (LINE_TO, 1, 0, 1, 0),
        (LINE_TO, 0, 0, 1, 0),
    ]
)
_RECT = np.array(
    [
        (MOVE_TO, 0, 0, 0, 0),
        (LINE_TO, 1, 0, 0, 0),
        (LINE_TO, 1, 0, 1, 0),
        (LINE_TO, 0, 0, 1, 0),
        (LINE_TO, 0, 0, 0, 0),
    ]
)


def _shapes(template: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, r: np.ndarray | float) -> QPainterPath:
    if len(x) == 0:
        return QPainterPath()
    radius = np.broadcast_to(np.asarray(r, dtype=np.float64), np.shape(x))
    xs = x[:, None] + template[None, :, 1] * w[:, None] + template[None, :, 2] * radius[:, None]
    ys = y[:, None] + template[None, :, 3] * h[:, None] + template[None, :, 4] * radius[:, None]
    types = np.tile(template[:, 0].astype(np.int32), len(x))
    return stream_path(types, xs.reshape(-1), ys.reshape(-1))


def rounded_rects(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, r: np.ndarray | float) -> QPainterPath:
    """Rounded rectangles (corner radius ``r``, at most half the shorter side) as one path."""
    radius = np.minimum(np.minimum(w, h) / 2, r)
    return _shapes(_ROUNDED, x, y, w, h, radius)


def top_bands(x: np.ndarray, y: np.ndarray, w: np.ndarray, band: float, r: float) -> QPainterPath:
    """The title band of each box: ``band`` high, its top corners rounded like the box's."""
    radius = np.minimum(np.minimum(w / 2, band), r)
    return _shapes(_TOP_BAND, x, y, w, np.full(len(x), band), radius)


def rects(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray) -> QPainterPath:
    """Plain rectangles as one path."""
    return _shapes(_RECT, x, y, w, h, 0.0)
