"""Measure the viewer's frame cost: ``python -m netray_viewer.benchmark MODEL [MODEL ...]``.

For each model: load, hierarchy, first layout, then the time to paint one
1600x1000 frame with the whole scene in view (far out), and centred at zooms
0.15 (boxes and arrows), 0.35 (titles), 1 and 2 (attribute lines, edge labels),
each the median of several frames. Prints one line per
model; numbers are wall-clock seconds or milliseconds on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def _frame_ms(painter: object, width: int, height: int, visible: tuple[float, float, float, float], zoom: float, repeat: int) -> tuple[float, int]:
    from PyQt6.QtCore import QRectF
    from PyQt6.QtGui import QImage, QPainter

    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    left, top, right, bottom = visible
    times = []
    drawn = 0
    for _ in range(repeat):
        image.fill(0)
        p = QPainter(image)
        p.scale(zoom, zoom)
        p.translate(-left, -top)
        start = time.perf_counter()
        drawn = painter.paint(p, QRectF(left, top, right - left, bottom - top), zoom)  # type: ignore[attr-defined]
        p.end()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), drawn


def measure(path: Path, expand: str, repeat: int, width: int = 1600, height: int = 1000) -> str:
    from netray.api import load_model
    from netray_viewer.navigation import GraphLevel
    from netray_viewer.painter import ScenePainter
    from netray_viewer.theme import light_theme

    t = time.perf_counter()
    model = load_model(path)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    level = GraphLevel.of(model.main, "main", expand)
    t_hier = time.perf_counter() - t
    t = time.perf_counter()
    scene = level.cache().scene(level.expanded)
    t_layout = time.perf_counter() - t
    t = time.perf_counter()
    painter = ScenePainter(scene, light_theme())
    t_cache = time.perf_counter() - t
    left, top, right, bottom = scene.bounds()
    fit_zoom = min(width / max(right - left, 1), height / max(bottom - top, 1))
    figures = [f"{path.name}: {len(model.main.nodes):,} ops, {scene.size:,} items, {len(scene.edge_src):,} edges",
               f"load {t_load:.2f}s hierarchy {t_hier:.2f}s layout {t_layout:.2f}s paint-cache {t_cache * 1000:.0f}ms"]
    cx, cy = (left + right) / 2, (top + bottom) / 2
    for label, zoom in (("fit", fit_zoom), ("mid", 0.15), ("titles", 0.35), ("zoom1", 1.0), ("zoom2", 2.0)):
        half_w, half_h = width / zoom / 2, height / zoom / 2
        visible = (left, top, right, bottom) if label == "fit" else (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
        ms, drawn = _frame_ms(painter, width, height, visible, zoom, repeat)
        figures.append(f"frame[{label} z={zoom:.3g}] {ms:.1f}ms ({drawn} boxes)")
    return " | ".join(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--expand", default="auto")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from netray_viewer.app import application

    application()
    for path in args.models:
        print(measure(path, args.expand, args.repeat), flush=True)


if __name__ == "__main__":
    main()
