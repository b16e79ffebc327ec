"""What capturing every value costs with onnxruntime: plain runs against netray's capture-everything run.

For light ResNet-50 (onnx's backend test data) and the fused Llama (bench/.models/llama32_fused.onnx,
built with bench/models.py when absent), prints the median of N runs of:

- ``plain (ORT default)``: the unmodified model, onnxruntime's default session (all graph optimizations);
- ``plain (no fusion)``: the unmodified model under netray's session options (graph optimizations off,
  so every value is the graph's own; see plugins/onnx/netray_onnx/runtime.py);
- ``capture``: ``OrtRuntime.forward`` with every node output made a graph output, a capture callback
  that drops each array (statistics are the engine's cost, not the runtime's);
- ``+ statistics``: the same capture with every value's statistics taken as ``netray run`` takes them
  (``StatsBatch``: small values reduced together), what it spends beyond the runtime, inputs aside;

and the ratios of capture to both plain runs. Each is timed in its own block after two warm-up runs
(onnxruntime's spinning threads of one session would slow another's runs if they alternated).

    python bench/run_capture.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _median_ms(run: Callable[[], object], runs: int) -> float:
    run()
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _models() -> list[tuple[str, Path]]:
    import onnx

    llama = HERE / ".models" / "llama32_fused.onnx"
    if not llama.exists():
        subprocess.run([sys.executable, str(HERE / "models.py"), "--only", "llama32_fused"], check=True)
    resnet = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    return [("light ResNet-50", resnet), ("Llama 32 layers, fused", llama)]


def _inputs(model: object) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    found = {}
    for value in model.main.inputs:  # type: ignore[attr-defined]
        shape = tuple(d if isinstance(d, int) else 1 for d in value.type.shape)
        if value.type.dtype.startswith("int"):
            found[value.name] = rng.integers(0, 256, shape).astype(value.type.dtype)
        else:
            found[value.name] = rng.standard_normal(shape).astype(value.type.dtype)
    return found


def _with_statistics(runtime: object, inputs: dict[str, np.ndarray], bins: int) -> object:
    """A capture whose callback takes every value's statistics, as ``netray run`` does (small values batched)."""
    from netray.value_stats import StatsBatch

    batch = StatsBatch(bins)
    runtime.forward(inputs, batch.add, lambda: False)  # type: ignore[attr-defined]
    return batch.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    import onnxruntime as ort

    import netray
    from netray_onnx.runtime import OrtRuntime

    print(f"onnxruntime {ort.__version__}, CPU, median of {args.runs} runs")
    print(
        f"{'model':<24}{'values':>7}{'plain ORT default':>19}{'plain no fusion':>17}{'capture':>10}{'ratio':>8}{'ratio nf':>10}"
        f"{'+ statistics':>14}{'ratio nf':>10}"
    )
    for label, path in _models():
        model = netray.load_model(path)
        inputs = _inputs(model)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        default = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        default_ms = _median_ms(lambda s=default, x=inputs: s.run(None, x), args.runs)
        del default
        runtime = OrtRuntime(model)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # netray's session options
        unfused = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        unfused_ms = _median_ms(lambda s=unfused, x=inputs: s.run(None, x), args.runs)
        del unfused
        capture_ms = _median_ms(
            lambda r=runtime, x=inputs: r.forward(x, lambda name, array: None, lambda: False), args.runs
        )
        stats_ms = _median_ms(lambda r=runtime, x=inputs: _with_statistics(r, x, 0), args.runs)
        print(
            f"{label:<24}{len(runtime.names):>7}{default_ms:>16.2f} ms{unfused_ms:>14.2f} ms{capture_ms:>7.2f} ms"
            f"{capture_ms / default_ms:>7.2f}x{capture_ms / unfused_ms:>9.2f}x{stats_ms:>11.2f} ms{stats_ms / unfused_ms:>9.2f}x"
        )


if __name__ == "__main__":
    main()
