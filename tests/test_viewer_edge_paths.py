"""Edge and box paths built in numpy: the same picture as drawing edge by edge, culled exactly."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PyQt6")

from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QPainterPath, QPolygonF

from netray.hierarchy import Hierarchy
from netray.layout import layout_scene
from netray.layout import synthetic as syn
from netray_viewer.edge_paths import EdgePieces, polylines_path
from netray_viewer.shapes import rounded_rects, top_bands


def reference_path(points: np.ndarray) -> QPainterPath:
    """One edge as the painter drew it before: Qt's quadTo through each bend, from midpoint to midpoint."""
    path = QPainterPath(QPointF(*points[0]))
    if len(points) == 2:
        path.lineTo(QPointF(*points[1]))
        return path
    for k in range(1, len(points) - 1):
        middle = (points[k] + points[k + 1]) / 2
        path.quadTo(QPointF(*points[k]), QPointF(*middle))
    path.lineTo(QPointF(*points[-1]))
    return path


def distance_to(polygons: list[QPolygonF], x: float, y: float) -> float:
    best = np.inf
    for polygon in polygons:
        xy = np.array([(p.x(), p.y()) for p in polygon])
        if len(xy) < 2:
            continue
        a, b = xy[:-1], xy[1:]
        d = b - a
        length2 = np.maximum((d**2).sum(axis=1), 1e-12)
        t = np.clip(((x - a[:, 0]) * d[:, 0] + (y - a[:, 1]) * d[:, 1]) / length2, 0, 1)
        best = min(best, float(np.hypot(a[:, 0] + t * d[:, 0] - x, a[:, 1] + t * d[:, 1] - y).min()))
    return best


@pytest.fixture(scope="module")
def scene():  # type: ignore[no-untyped-def]
    graph = syn.layered_dag(400, seed=3)
    hierarchy = Hierarchy.build(graph)
    return layout_scene(graph, hierarchy, hierarchy.all_group_ids())


def test_each_edge_is_drawn_as_before_within_qts_flattening(qapp: object, scene) -> None:  # type: ignore[no-untyped-def]
    pieces = EdgePieces.of(scene.edge_points, scene.edge_offsets)
    bends = 0
    for j in range(len(scene.edge_src)):
        line = scene.edge_polyline(j)
        if len(line) < 2:
            continue
        bends += len(line) - 2
        mine = pieces.path(pieces.edge_pieces(np.array([j])))
        theirs = reference_path(line)
        assert len(mine.toSubpathPolygons()) == 1  # one unbroken line per edge
        for fraction in np.linspace(0, 1, 25):
            p = theirs.pointAtPercent(float(fraction))
            assert distance_to(mine.toSubpathPolygons(), p.x(), p.y()) < 0.5
            q = mine.pointAtPercent(float(fraction))
            assert distance_to(theirs.toSubpathPolygons(), q.x(), q.y()) < 0.5
    assert bends > 100  # the layout really bends edges: curves were compared, not only lines


def test_straight_runs_become_one_piece_and_shared_routes_are_kept_once() -> None:
    # A vertical edge through four collinear points, and a second edge on exactly the same route.
    route = np.array([[0.0, 0.0], [0.0, 100.0], [0.0, 200.0], [0.0, 300.0]])
    bent = np.array([[0.0, 0.0], [0.0, 100.0], [50.0, 200.0], [50.0, 300.0]])
    points = np.concatenate([route, route, bent])
    offsets = np.array([0, 4, 8, 12])
    pieces = EdgePieces.of(points, offsets)
    assert len(pieces.edge_pieces(np.array([0]))) == 1  # one line, not three
    assert pieces.edge_pieces(np.array([0])).tolist() == pieces.edge_pieces(np.array([1])).tolist()
    assert pieces.curved[pieces.edge_pieces(np.array([2]))].sum() == 2  # two real bends
    assert pieces.size == 1 + len(pieces.edge_pieces(np.array([2])))


def test_culling_finds_exactly_the_pieces_meeting_the_view(scene) -> None:  # type: ignore[no-untyped-def]
    pieces = EdgePieces.of(scene.edge_points, scene.edge_offsets)
    left, top, right, bottom = scene.bounds()
    rng = np.random.default_rng(0)
    for _ in range(50):
        x0, x1 = np.sort(rng.uniform(left, right, 2))
        y0, y1 = np.sort(rng.uniform(top, bottom, 2))
        brute = np.flatnonzero(
            (pieces.low[:, 0] <= x1) & (pieces.high[:, 0] >= x0) & (pieces.low[:, 1] <= y1) & (pieces.high[:, 1] >= y0)
        )
        assert pieces.pieces_in(x0, y0, x1, y1).tolist() == brute.tolist()


def test_lines_far_beyond_the_view_are_clipped_along_themselves(qapp: object) -> None:
    points = np.array([[-1e7, -2e7], [1e7, 2e7]])  # a line through the origin, slope 2
    pieces = EdgePieces.of(points, np.array([0, 2]))
    path = pieces.path(np.arange(pieces.size), clip=(-100.0, -100.0, 100.0, 100.0))
    bounds = path.boundingRect()
    assert bounds.height() < 300 and bounds.width() < 300  # cut to the view and a small margin
    start, end = path.elementAt(0), path.elementAt(1)
    assert end.y - start.y == pytest.approx(2 * (end.x - start.x))  # still the same line


def test_polylines_and_boxes_as_single_paths(qapp: object) -> None:
    path = polylines_path(np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [5.0, 15.0]]), np.array([0, 2, 4]))
    assert len(path.toSubpathPolygons()) == 2
    x = np.array([0.0, 100.0])
    y = np.array([0.0, 50.0])
    w = np.array([80.0, 40.0])
    h = np.array([30.0, 10.0])
    boxes = rounded_rects(x, y, w, h, 4.0)
    assert boxes.boundingRect() == QRectF(0, 0, 140, 60)
    assert boxes.contains(QPointF(40, 15)) and not boxes.contains(QPointF(0.2, 0.2))  # corners are round
    assert len(boxes.toSubpathPolygons()) == 2
    bands = top_bands(x, y, w, 22.0, 4.0)
    assert bands.boundingRect() == QRectF(0, 0, 140, 72)
    assert bands.contains(QPointF(40, 20)) and not bands.contains(QPointF(40, 25))
