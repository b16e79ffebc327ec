"""Pan and zoom smoothness: the worst frame at each zoom of a scripted pan over a large graph.

Opens a model (by default the 100-layer Llama-like decoder of ``bench/models.py``, fully
expanded) in an offscreen 1600x1000 :class:`~netray_viewer.window.MainWindow`, then for
each zoom from 0.05 to 2 screen pixels per scene unit: centres the view on the graph's
middle column, a third of the way down (among the decoder layers, where it is busiest),
and pans down the graph in steps of a quarter view, 20 frames, then sideways, two steps
left and two back, through the real canvas widget. One frame = change the view
range, let Qt process the events that follow (the repaint among them), and force a
repaint only if none happened. Prints the median and worst frame per zoom.

```
QT_QPA_PLATFORM=offscreen .venv/bin/python bench/pan.py                 # llama100_unfused, --expand all
.venv/bin/python bench/pan.py --model bench/.models/flat100k.onnx --json
.venv/bin/python bench/pan.py --profile 0.2                            # cProfile of the frames at zoom 0.2
```
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ZOOMS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0)
PAN_FRAMES = 20  # down the graph
SIDE_STEPS = (-1, -1, 1, 1)  # then sideways, left and back
START_DEPTH = 1 / 3  # where the pan starts, as a share of the graph's height
PAN_FRACTION = 0.25  # of the view per frame: a brisk drag
BAR_MS = 33.0  # a frame within this is smooth (30 frames a second)


def default_model() -> Path:
    sys.path.insert(0, str(BENCH))
    import models  # bench/models.py

    return Path(models.build("llama100_unfused")["path"])


def run(model: Path, expand: str, zooms: tuple[float, ...], profile_zoom: float | None, fold: bool = True) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QRectF, QSettings

    from netray_viewer.app import application
    from netray_viewer.window import MainWindow

    app = application()
    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="netray-pan-")) / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("view/fold_constants", fold)  # read by viewers that have the setting; others ignore it
    window = MainWindow(expand=expand, settings=settings, raise_errors=True, theme="light")
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    started = time.perf_counter()
    window.open_file(str(model), block=True)
    window.wait_until_idle()
    opened_s = time.perf_counter() - started
    if window.layout_error is not None or window.scene is None:
        raise SystemExit(f"layout failed: {window.layout_error}")
    scene = window.scene
    canvas = window.canvas
    view = canvas.view_box
    canvas.grab()
    left, top, right, bottom = scene.bounds()

    def frame(rect: QRectF) -> float:
        painted_before = canvas.item.frames_painted
        t0 = time.perf_counter()
        view.setRange(rect, padding=0)
        app.processEvents()
        if canvas.item.frames_painted == painted_before:
            canvas.viewport().repaint()
        return (time.perf_counter() - t0) * 1000

    rows = []
    for zoom in zooms:
        width, height = view.width() / zoom, view.height() / zoom
        x0 = (left + right) / 2 - width / 2
        rect = QRectF(x0, top + (bottom - top) * START_DEPTH - height / 2, width, height)
        frame(rect)  # settle at this zoom (the level of detail changes): not counted
        profiler = cProfile.Profile() if profile_zoom is not None and abs(profile_zoom - zoom) < 1e-9 else None
        if profiler is not None:
            profiler.enable()
        times = []
        drawn = 0
        steps = [(0.0, 1.0)] * PAN_FRAMES + [(float(side), 0.0) for side in SIDE_STEPS]
        for dx, dy in steps:
            rect = rect.translated(width * PAN_FRACTION * dx, height * PAN_FRACTION * dy)
            times.append(frame(rect))
            drawn = max(drawn, int(canvas.item.last_drawn))
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        rows.append(
            {
                "zoom": zoom,
                "median_ms": round(statistics.median(times), 1),
                "worst_ms": round(max(times), 1),
                "over_bar": sum(1 for t in times if t >= BAR_MS),
                "boxes_drawn_max": drawn,
            }
        )
    window.close()
    return {
        "model": model.name,
        "expand": expand,
        "fold_constants": fold,
        "items": scene.size,
        "edges": len(scene.edge_src),
        "open_s": round(opened_s, 2),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "zooms": rows,
        "worst_ms": max(r["worst_ms"] for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: llama100_unfused from bench/models.py)")
    parser.add_argument("--expand", default="all", help="auto, none, all or a depth (default all)")
    parser.add_argument("--zoom", type=float, action="append", help="zoom to measure (repeatable; default 0.05 … 2)")
    parser.add_argument("--profile", type=float, help="print a cProfile of the frames at this zoom to stderr")
    parser.add_argument("--no-fold", action="store_true", help="draw constants as boxes of their own (View › Fold Constants off)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    model = args.model or default_model()
    result = run(model, args.expand, tuple(args.zoom or ZOOMS), args.profile, fold=not args.no_fold)
    if args.json:
        print(json.dumps(result))
        return 0
    folded = "constants folded" if result["fold_constants"] else "constants as boxes"
    print(f"{result['model']} (--expand {result['expand']}, {folded}): {result['items']:,} items, {result['edges']:,} edges, "
          f"opened in {result['open_s']} s, load average {result['load_average']}")
    print(f"{'zoom':>6} {'median ms':>10} {'worst ms':>9} {'boxes':>6}")
    for row in result["zooms"]:
        flag = "" if row["worst_ms"] < BAR_MS else f"   {row['over_bar']} frames over {BAR_MS:.0f} ms"
        print(f"{row['zoom']:>6} {row['median_ms']:>10} {row['worst_ms']:>9} {row['boxes_drawn_max']:>6}{flag}")
    print(f"worst frame {result['worst_ms']} ms (bar: under {BAR_MS:.0f} ms at every zoom)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
