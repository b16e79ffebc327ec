"""Find the edge under the pointer: distance from a point to polylines, in numpy."""

from __future__ import annotations

import numpy as np

from netray.scene import Scene
from netray_viewer.geometry import SceneGeometry


def segment_distances(points: np.ndarray, px: float, py: float) -> np.ndarray:
    """Distance from (px, py) to each segment points[k] -> points[k + 1]."""
    a = points[:-1]
    b = points[1:]
    d = b - a
    length2 = (d**2).sum(axis=1)
    length2[length2 == 0] = 1.0
    t = np.clip(((px - a[:, 0]) * d[:, 0] + (py - a[:, 1]) * d[:, 1]) / length2, 0.0, 1.0)
    cx = a[:, 0] + t * d[:, 0]
    cy = a[:, 1] + t * d[:, 1]
    return np.hypot(cx - px, cy - py)


def nearest_edge(scene: Scene, geometry: SceneGeometry, px: float, py: float, tolerance: float) -> int | None:
    """The edge whose polyline passes within ``tolerance`` of the point, nearest first."""
    candidates = geometry.edges_in(px - tolerance, py - tolerance, px + tolerance, py + tolerance)
    best: int | None = None
    best_distance = tolerance
    for j in candidates.tolist():
        line = scene.edge_polyline(j)
        if len(line) < 2:
            continue
        distance = float(segment_distances(line, px, py).min())
        if distance <= best_distance:
            best, best_distance = j, distance
    return best
