"""Time of ``netray diff`` on Llama 100 (unfused, ~20.8k nodes) against a copy with one weight changed.

Builds the copy (cached in bench/.models/llama100_unfused.changed.onnx): the same file with
one initializer (the first 2-D weight) scaled by 1.01. Prints, for the best of ``--repeat`` runs:

- ``in_process_s``: ``netray.load_model`` of both files and ``diff_models`` (weights compared);
- ``diff_only_s``: ``diff_models`` alone, both models already loaded;
- ``cli_s``: ``netray diff A B --json OUT`` in a fresh process (interpreter start included),
  and its exit status (1: the models differ).

    python bench/diff.py [--repeat N] [--json]

The model is built by ``python bench/models.py --only llama100_unfused`` when absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
MODELS = BENCH_DIR / ".models"
SOURCE = MODELS / "llama100_unfused.onnx"
CHANGED = MODELS / "llama100_unfused.changed.onnx"
LIMIT_S = 5.0


def ensure_models() -> str:
    """Build the model and its changed copy if absent; the name of the changed weight."""
    if not SOURCE.exists():
        subprocess.run([sys.executable, str(BENCH_DIR / "models.py"), "--only", "llama100_unfused"], check=True)
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(SOURCE))
    index, tensor = next((i, t) for i, t in enumerate(model.graph.initializer) if len(t.dims) == 2)
    if not CHANGED.exists() or CHANGED.stat().st_mtime < SOURCE.stat().st_mtime:
        array = numpy_helper.to_array(tensor)
        model.graph.initializer[index].CopyFrom(numpy_helper.from_array((array * np.float32(1.01)).astype(array.dtype), tensor.name))
        onnx.save(model, str(CHANGED))
    return tensor.name


def measure(repeat: int) -> dict[str, Any]:
    import netray
    from netray.diff import diff_models

    changed_weight = ensure_models()
    netray.load_model(SOURCE)  # plugins discovered and imported once, outside the timing
    best_in, best_diff = float("inf"), float("inf")
    summary: dict[str, int] = {}
    fields: list[str] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a = netray.load_model(SOURCE)
        b = netray.load_model(CHANGED)
        t1 = time.perf_counter()
        result = diff_models(a, b)
        t2 = time.perf_counter()
        best_in = min(best_in, t2 - t0)
        best_diff = min(best_diff, t2 - t1)
        summary = result.summary()
        fields = [f.field for c in result.changes for f in c.fields]
    best_cli = float("inf")
    code = -1
    out = MODELS / "llama100_unfused.diff.json"
    netray_cli = Path(sys.executable).parent / "netray"
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run([str(netray_cli), "diff", str(SOURCE), str(CHANGED), "--json", str(out)], capture_output=True)
        best_cli = min(best_cli, time.perf_counter() - t0)
        code = done.returncode
    return {
        "model": SOURCE.name,
        "nodes": len(a.main.nodes),
        "changed_weight": changed_weight,
        "in_process_s": round(best_in, 3),
        "diff_only_s": round(best_diff, 3),
        "cli_s": round(best_cli, 3),
        "cli_exit": code,
        "summary": summary,
        "fields": fields,
        "under_limit": best_cli < LIMIT_S and best_in < LIMIT_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    figures = measure(args.repeat)
    if args.json:
        print(json.dumps(figures, indent=1))
        return
    print(f"{figures['model']} ({figures['nodes']:,} nodes) against a copy with {figures['changed_weight']} x 1.01")
    print(f"  in process (load both + diff)  {figures['in_process_s']:.2f} s")
    print(f"  diff_models alone              {figures['diff_only_s']:.2f} s")
    print(f"  netray diff (fresh process)    {figures['cli_s']:.2f} s   exit {figures['cli_exit']}")
    print(f"  summary {figures['summary']}")
    print(f"  changed fields {figures['fields']}")
    print(f"  under {LIMIT_S:g} s: {'yes' if figures['under_limit'] else 'NO'}")


if __name__ == "__main__":
    main()
