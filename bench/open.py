"""Time netray opening and painting the scale benchmark's models, beside Netron.

For each model (built by bench/models.py into bench/.models/, cached):

- ``ready``: seconds to a drawn window from ``netray open FILE --snapshot OUT.png``
  in a fresh process (interpreter start and imports included), at the default
  expansion and with ``--expand all``; also that process's peak resident memory
  (its VmHWM, sampled while it runs).
- ``paint``: mean and worst time of one frame during a scripted pan and zoom
  (fit, zoom in to reading distance, pan down the graph, zoom out), in another
  fresh process: each step sets the view range and processes events until the
  canvas has painted (forcing a repaint if Qt has not painted yet).
- ``netron``: Netron's time to a drawn graph in headless Chromium
  (bench/netron.py), where netron and Chromium are installed, and the ratio
  Netron / netray.

Output: a table on stdout, or ``--json``. Qt runs offscreen.

    python bench/open.py [--only NAME ...] [--no-netron] [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CHILD_TIMEOUT_S = 600.0

# The scripted view changes: zoom factors and pan steps (fractions of the view).
ZOOM_STEPS = 8
ZOOM_FACTOR = 1.6
PAN_STEPS = 24
PAN_FRACTION = 0.5


def load_sibling(name: str) -> ModuleType:
    """Import bench/<name>.py under a private name (bench/netron.py would shadow the netron package)."""
    spec = importlib.util.spec_from_file_location(f"netray_bench_{name}", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def netray_command() -> list[str]:
    """The netray CLI of this interpreter's environment."""
    script = Path(sys.executable).with_name("netray")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from netray.cli import main; main()"]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # Time netray as a user's Python runs it, with bytecode caches: a sandbox or CI that sets
    # PYTHONDONTWRITEBYTECODE makes every run compile netray's sources again (~0.15 s).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def high_water_mb(pid: int) -> float | None:
    """A live process's peak resident memory so far (VmHWM in /proc), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_measured(command: list[str], timeout: float = CHILD_TIMEOUT_S) -> tuple[int | None, str, str, float]:
    """Run ``command``; returns (exit status or None on time-out, stdout, stderr, peak RSS in MB).

    The peak is the child's VmHWM, read while it runs (every 20 ms; the exec'd
    image only). ``ru_maxrss`` from ``os.wait4`` is the fallback where /proc is
    absent; on Linux it can report the forking parent's size instead.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=child_env(), cwd=REPO)
        deadline = time.monotonic() + timeout
        status: int | None = None
        peak_mb = 0.0
        usage_mb = 0.0
        while True:
            seen = high_water_mb(process.pid)
            if seen is not None:
                peak_mb = max(peak_mb, seen)
            pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(wait_status)
                usage_mb = usage.ru_maxrss / 1024
                process.returncode = status  # reaped here; keep Popen from waiting again
                break
            if time.monotonic() > deadline:
                process.kill()
                _, _, usage = os.wait4(process.pid, 0)
                process.returncode = -9
                usage_mb = usage.ru_maxrss / 1024
                break
            time.sleep(0.02)
        out.seek(0)
        err.seek(0)
        return status, out.read().decode(errors="replace"), err.read().decode(errors="replace"), peak_mb or usage_mb


def last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def failure(status: int | None, stderr: str) -> str:
    if status is None:
        return "timeout"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return f"exit {status}: {lines[-1][:160] if lines else 'no message'}"


def measure_ready(model: Path, expand: str, repeat: int) -> dict[str, Any]:
    """``netray open --snapshot`` in fresh processes: median ready_s, its nodes/visible, peak RSS."""
    readies: list[float] = []
    peaks: list[float] = []
    last: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="netray-bench-") as scratch:
        for _ in range(repeat):
            snapshot = Path(scratch) / "snapshot.png"
            command = [*netray_command(), "open", str(model), "--snapshot", str(snapshot), "--expand", expand]
            status, stdout, stderr, peak_mb = run_measured(command)
            result = last_json_line(stdout)
            if status != 0 or result is None:
                return {"error": failure(status, stderr), "peak_rss_mb": round(peak_mb, 1)}
            readies.append(float(result["ready_s"]))
            peaks.append(peak_mb)
            last = result
    return {
        "ready_s": round(statistics.median(readies), 3),
        "ready_runs": readies,
        "nodes": last.get("nodes"),
        "visible": last.get("visible"),
        "peak_rss_mb": round(max(peaks), 1),
    }


def measure_paint(model: Path, expand: str) -> dict[str, Any]:
    """The scripted pan and zoom, in a fresh process (see :func:`paint_child`)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--paint-child", str(model), "--expand", expand]
    status, stdout, stderr, peak_mb = run_measured(command)
    result = last_json_line(stdout)
    if status != 0 or result is None:
        return {"error": failure(status, stderr)}
    return {**result, "peak_rss_mb": round(peak_mb, 1)}


def paint_child(model: Path, expand: str) -> dict[str, Any]:
    """Open ``model`` in an offscreen window and time each frame of a scripted pan and zoom.

    Runs in its own process. One frame = change the view range, let Qt process
    the events that follow (the repaint among them), and force a repaint only if
    none happened, so every frame is one paint of the visible part.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QPointF, QRectF, QSettings

    from netray_viewer.app import application
    from netray_viewer.window import MainWindow

    app = application()
    settings_dir = tempfile.mkdtemp(prefix="netray-bench-settings-")
    settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(expand=expand, settings=settings, raise_errors=True, theme="light")
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    window.open_file(str(model), block=True)
    window.wait_until_idle()
    if window.layout_error is not None:
        raise SystemExit(f"layout failed: {window.layout_error}")
    canvas = window.canvas
    app.processEvents()
    canvas.grab()  # the first frame is the ready time's business, not the paint time's

    frames: list[float] = []
    drawn: list[int] = []

    def frame(change: Any) -> None:
        painted_before = canvas.item.frames_painted
        started = time.perf_counter()
        change()
        app.processEvents()  # range signals, minimap, and the repaint Qt schedules
        if canvas.item.frames_painted == painted_before:
            canvas.viewport().repaint()  # no paint happened yet: force the one frame
        frames.append(time.perf_counter() - started)
        drawn.append(int(canvas.item.last_drawn))

    view = canvas.view_box
    frame(canvas.fit)
    centre = view.viewRect().center()
    for _ in range(ZOOM_STEPS):  # zoom in toward the centre
        frame(lambda: canvas.zoom_by(ZOOM_FACTOR, centre))
    for _ in range(PAN_STEPS):  # pan down the graph (layers run downward)
        rect = view.viewRect()
        frame(lambda rect=rect: view.setRange(rect.translated(0, rect.height() * PAN_FRACTION), padding=0))
    # pan sideways once, then zoom back out
    rect = view.viewRect()
    frame(lambda: view.setRange(QRectF(rect).translated(rect.width() * PAN_FRACTION, 0), padding=0))
    last_centre = QPointF(view.viewRect().center())
    for _ in range(ZOOM_STEPS):
        frame(lambda: canvas.zoom_by(1 / ZOOM_FACTOR, last_centre))
    frame(canvas.fit)
    window.close()
    return {
        "frames": len(frames),
        "paint_mean_ms": round(1000 * statistics.fmean(frames), 2),
        "paint_worst_ms": round(1000 * max(frames), 2),
        "paint_median_ms": round(1000 * statistics.median(frames), 2),
        # The bar is a frame of the whole graph, zoomed out: the first and last (fit) frames.
        "paint_fitted_ms": [round(1000 * frames[0], 2), round(1000 * frames[-1], 2)],
        "worst_frame": frames.index(max(frames)),  # 0 fit, 1-8 zoom in, 9-33 pan, 34-41 zoom out, 42 fit
        "boxes_drawn_max": max(drawn),
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "qt_platform": "offscreen",
    }


def ratio(netron_s: float | None, netray_s: float | None) -> float | None:
    if not netron_s or not netray_s:
        return None
    return round(netron_s / netray_s, 2)


def measure_netron(netron: ModuleType, path: Path, repeat: int, timeout: float) -> dict[str, Any]:
    """Netron's median over ``repeat`` runs, each just after a netray run of the same model.

    The pairs give the netray / Netron ratio side by side: on a shared machine whose
    speed drifts over minutes, a ratio of neighbouring runs is steadier than a ratio of
    medians taken minutes apart. One run only where Netron takes over 10 s.
    """
    from dataclasses import asdict

    runs: list[dict[str, Any]] = []
    pairs: list[list[float]] = []
    for _ in range(max(repeat, 1)):
        ours = measure_ready(path, "auto", 1).get("ready_s")
        run = asdict(netron.measure(path, timeout=timeout))
        runs.append(run)
        if run["status"] != "ok":
            break
        if ours:
            pairs.append([ours, run["ready_s"]])
        if run["ready_s"] > 10.0:
            break
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return runs[-1]
    result = dict(ok[0])
    result["ready_s"] = round(statistics.median(r["ready_s"] for r in ok), 3)
    result["ready_runs"] = [r["ready_s"] for r in ok]
    result["browser_peak_rss_mb"] = max(r["browser_peak_rss_mb"] or 0.0 for r in ok)
    result["pairs"] = pairs  # [netray ready_s, Netron ready_s], run one after the other
    if pairs:
        result["netray_over_netron_paired"] = round(statistics.median(a / b for a, b in pairs), 3)
    return result


def benchmark(names: list[str], repeat: int, with_netron: bool, netron_timeout: float) -> dict[str, Any]:
    models = load_sibling("models")
    netron = load_sibling("netron") if with_netron else None
    netron_reason = netron.unavailable_reason() if netron is not None else "skipped (--no-netron)"
    rows = []
    for name in names:
        record = models.build(name)
        path = Path(record["path"])
        print(f"# {name}: {record['nodes']:,} nodes, {record['bytes'] / 1e6:.1f} MB", file=sys.stderr, flush=True)
        row: dict[str, Any] = {"model": name, "file_nodes": record["nodes"], "file_mb": round(record["bytes"] / 1e6, 2)}
        # Other work on a shared machine inflates every figure; keep the load beside them.
        row["load_average_1min_before"] = round(os.getloadavg()[0], 2)
        row["default"] = measure_ready(path, "auto", repeat)
        row["all"] = measure_ready(path, "all", repeat)
        row["paint_default"] = measure_paint(path, "auto")
        row["paint_all"] = measure_paint(path, "all")
        if netron is not None and netron_reason is None:
            row["netron"] = measure_netron(netron, path, repeat, netron_timeout)
        else:
            row["netron"] = {"status": "unavailable", "detail": netron_reason}
        row["netron_over_netray"] = ratio(row["netron"].get("ready_s"), row["default"].get("ready_s"))
        row["netron_over_netray_all"] = ratio(row["netron"].get("ready_s"), row["all"].get("ready_s"))
        print(f"# {json.dumps(row)}", file=sys.stderr, flush=True)
        rows.append(row)
    return {"machine": machine(), "repeat": repeat, "models": rows}


def seconds(part: dict[str, Any], key: str = "ready_s") -> str:
    if "error" in part:
        return "FAIL" if part["error"] != "timeout" else "timeout"
    value = part.get(key)
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def millis(part: dict[str, Any]) -> str:
    if "error" in part:
        return "FAIL"
    return f"{part['paint_mean_ms']:.0f}/{part['paint_worst_ms']:.0f}"


def print_table(report: dict[str, Any]) -> None:
    header = (
        f"{'model':18} {'nodes':>8} {'ready s':>8} {'all s':>7} {'paint ms':>10} {'all ms':>10} "
        f"{'RSS MB':>7} {'netron s':>9} {'ratio':>6} {'paired':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in report["models"]:
        netron = row["netron"]
        netron_text = f"{netron['ready_s']:.2f}" if netron.get("ready_s") else netron.get("status", "-")
        ratio_text = f"{row['netron_over_netray']:.1f}x" if row["netron_over_netray"] else "-"
        rss = max(row["default"].get("peak_rss_mb", 0), row["all"].get("peak_rss_mb", 0))
        paired = netron.get("netray_over_netron_paired")
        paired_text = f"{paired:.2f}" if paired else "-"
        print(
            f"{row['model']:18} {row['file_nodes']:>8,} {seconds(row['default']):>8} {seconds(row['all']):>7} "
            f"{millis(row['paint_default']):>10} {millis(row['paint_all']):>10} {rss:>7.0f} {netron_text:>9} {ratio_text:>6}"
            f" {paired_text:>7}"
        )
    print()
    print("ready: netray open --snapshot in a fresh process (default expansion / --expand all), median of runs")
    print("paint: mean/worst ms per frame of a scripted pan and zoom; RSS: peak of the netray process")
    print("netron: navigation to drawn SVG in headless Chromium; ratio: netron / netray (default expansion)")
    print("paired: median of netray / Netron over runs made one after the other (where Netron takes under 10 s)")
    for row in report["models"]:
        for key in ("default", "all", "paint_default", "paint_all"):
            if "error" in row[key]:
                print(f"{row['model']} {key}: {row[key]['error']}")
        if row["netron"].get("detail"):
            print(f"{row['model']} netron: {row['netron']['status']}: {row['netron']['detail']}")


def main(argv: list[str] | None = None) -> int:
    models = load_sibling("models")
    parser = argparse.ArgumentParser(description="Time netray (and Netron) opening the scale benchmark models.")
    parser.add_argument("--only", action="append", choices=models.MODEL_NAMES, metavar="NAME")
    parser.add_argument("--repeat", type=int, default=1, help="runs per model and expansion, netray and Netron (median)")
    parser.add_argument("--no-netron", action="store_true", help="skip the Netron comparison")
    parser.add_argument("--netron-timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--paint-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--expand", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.paint_child:
        print(json.dumps(paint_child(args.paint_child, args.expand)))
        return 0
    report = benchmark(
        args.only or list(models.MODEL_NAMES), max(1, args.repeat), not args.no_netron, args.netron_timeout
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
