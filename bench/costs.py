"""What ``netray info --costs`` adds to ``netray info``, on the benchmark models.

    python bench/costs.py [--only llama100_unfused light_resnet50] [--repeat N] [--json]

For each model: the wall time of ``netray info`` and of ``netray info --costs`` (fresh
processes, interpreter start included, run alternately so both see the same machine load),
their ratio, and, in this process, the time of reading the model, of computing its costs
(shapes resolved, formulas, peak memory) and of grouping it for the per-group totals.
The models come from bench/models.py (built and cached in bench/.models/).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import models as bench_models  # noqa: E402

DEFAULT_MODELS = ("light_resnet50", "llama100_unfused")
NETRAY = [sys.executable, "-m", "netray.cli"]


def _wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(NETRAY + args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _in_process(path: Path) -> dict[str, float]:
    import netray
    from netray.costs import compute_costs
    from netray.hierarchy import Hierarchy

    start = time.perf_counter()
    model = netray.load_model(path)
    read = time.perf_counter()
    report = compute_costs(model)
    costed = time.perf_counter()
    report.group_totals(Hierarchy.build(model.main))
    grouped = time.perf_counter()
    return {
        "nodes": len(model.main.nodes),
        "read_s": read - start,
        "costs_s": costed - read,
        "group_totals_s": grouped - costed,
        "macs": report.total()["macs"],
    }


def measure(name: str, repeat: int) -> dict[str, Any]:
    path = bench_models.model_path(name)
    if not path.exists():
        bench_models.build(name)
    plain, costs = [], []
    for _ in range(repeat):
        plain.append(_wall(["info", str(path)]))
        costs.append(_wall(["info", str(path), "--costs"]))
    ratios = [c / p for p, c in zip(plain, costs, strict=True)]
    return {
        "model": name,
        "info_s": statistics.median(plain),
        "info_costs_s": statistics.median(costs),
        "ratio": statistics.median(ratios),
        **_in_process(path),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=list(DEFAULT_MODELS), choices=bench_models.MODEL_NAMES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(name, args.repeat) for name in args.only]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':20} {'nodes':>7} {'info':>7} {'--costs':>8} {'ratio':>6} {'read':>7} {'costs':>7} {'groups':>7}")
    for r in rows:
        print(
            f"{r['model']:20} {r['nodes']:7,} {r['info_s']:6.2f}s {r['info_costs_s']:7.2f}s {r['ratio']:6.2f}"
            f" {r['read_s']:6.3f}s {r['costs_s']:6.3f}s {r['group_totals_s']:6.3f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
