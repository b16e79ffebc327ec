"""How fast the ONNX plugin opens a large graph: a generated 100,000-node model.

Prints the time to open it with netray (structure only) next to ``onnx.load``
alone, and the peak memory of a model whose weights stay in the file.

    .venv/bin/python bench/read_onnx.py [--nodes 100000]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import netray


def chain_model(nodes: int) -> onnx.ModelProto:
    """A realistic-looking deep chain: MatMul+Add+Relu blocks with scoped names and small weights."""
    width = 8
    rng = np.random.default_rng(0)
    graph_nodes = []
    inits = []
    prev = "x"
    blocks = nodes // 3
    for b in range(blocks):
        scope = f"/model/layers.{b // 4}/block{b % 4}"
        w = f"layers.{b}.weight"
        inits.append(numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float32), w))
        graph_nodes += [
            helper.make_node("MatMul", [prev, w], [f"{scope}/mm"], name=f"{scope}/MatMul"),
            helper.make_node("Add", [f"{scope}/mm", w], [f"{scope}/add"], name=f"{scope}/Add"),
            helper.make_node("Relu", [f"{scope}/add"], [f"{scope}/out"], name=f"{scope}/Relu"),
        ]
        prev = f"{scope}/out"
    graph = helper.make_graph(
        graph_nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["batch", width])],
        inits,
    )
    return helper.make_model(graph, producer_name="netray-bench", opset_imports=[helper.make_opsetid("", 17)])


def big_weights_model(megabytes: int) -> onnx.ModelProto:
    """Few nodes, large weights: opening must not cost the weights' memory."""
    side = int((megabytes * 1024 * 1024 / 4 / 4) ** 0.5)
    inits = [numpy_helper.from_array(np.ones((side, side), np.float32), f"w{i}") for i in range(4)]
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"y{i - 1}", f"w{i}"], [f"y{i}"]) for i in range(4)]
    graph = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, side])],
        [helper.make_tensor_value_info("y3", TensorProto.FLOAT, [1, side])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def resident_bytes() -> int | None:
    """Current resident memory of this process (Linux), C allocations included."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Best wall-clock and best CPU time of ``repeats`` calls (CPU time is steadier on a busy machine)."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        del result  # freeing the model (its values and nodes refer to each other: the cyclic GC) is not opening it
        gc.collect()
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--megabytes", type=int, default=400, help="weights of the large-weights model")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chain.onnx"
        onnx.save(chain_model(args.nodes), path)
        size = path.stat().st_size
        model = netray.load_model(path)
        count = len(model.main.nodes)
        wall, cpu = best_of(args.repeats, lambda: netray.load_model(path))
        onnx_wall, onnx_cpu = best_of(args.repeats, lambda: onnx.load(path))
        print(f"{count} nodes, {size / 1e6:.1f} MB file (best of {args.repeats})")
        print(f"  netray.load_model : {wall:.3f} s wall, {cpu:.3f} s CPU  ({cpu / count * 1e6:.1f} µs/node)")
        print(f"  onnx.load alone   : {onnx_wall:.3f} s wall, {onnx_cpu:.3f} s CPU (protobuf parse only, no IR)")
        path.unlink()

        big = Path(tmp) / "big.onnx"
        onnx.save(big_weights_model(args.megabytes), big)
        gc.collect()
        rss_before = resident_bytes()
        tracemalloc.start()
        start = time.perf_counter()
        model = netray.load_model(big)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resident_bytes()
        growth = f", resident memory +{(rss_after - rss_before) / 1e6:.1f} MB" if rss_before and rss_after else ""
        print(f"{big.stat().st_size / 1e6:.0f} MB of weights: opened in {elapsed * 1000:.1f} ms, "
              f"peak Python memory {peak / 1e6:.2f} MB{growth}, {model.parameter_count()} parameters")
        proto_rss = resident_bytes()
        loaded = onnx.load(big)
        if proto_rss and (after := resident_bytes()):
            print(f"  (onnx.load of the same file: resident memory +{(after - proto_rss) / 1e6:.0f} MB)")
        del loaded


if __name__ == "__main__":
    main()
