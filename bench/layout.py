"""Layout benchmark: prints hierarchy and layout times, items and re-layout times.

    .venv/bin/python bench/layout.py            # all cases
    .venv/bin/python bench/layout.py --quick    # skip the 100k-node cases

Cases are generated with netray.layout.synthetic (no files needed): layered random
DAGs in one level (folding off), a Llama-like decoder with scopes and ONNX-style
shape ops (~18.5k ops), and flat 100k-op graphs opened at their default view.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from netray.hierarchy import Hierarchy
from netray.ir import Graph
from netray.layout import LayoutCache
from netray.layout import synthetic as syn


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def _row(name: str, nodes: int, view: str, hier_s: float, layout_s: float, items: int, edges: int, extra: str = "") -> None:
    print(f"{name:<28} {nodes:>7} {view:<10} {hier_s:>8.2f} {layout_s:>9.2f} {items:>7} {edges:>7}  {extra}")


def bench_case(name: str, make: Callable[[], Graph], *, fold: bool, views: tuple[str, ...]) -> None:
    graph = make()
    hier_s, h = _timed(lambda: Hierarchy.build(graph, fold=fold))
    assert isinstance(h, Hierarchy)
    for view in views:
        expanded = h.all_group_ids() if view == "full" else h.default_expanded()
        # Layout time includes building the cache (the edge index over the whole graph).
        t = time.perf_counter()
        cache = LayoutCache(graph, h)
        scene = cache.scene(expanded)
        layout_s = time.perf_counter() - t
        extra = ""
        if view == "default":
            # Expansion change: open the first collapsed group that shows, then close it again.
            closed = [g for g in h.root.walk() if g.id not in expanded and g.parent is not None and g.parent.id in expanded]
            if closed:
                target = max(closed[:50], key=lambda g: g.member_count)
                open_s, opened = _timed(lambda target=target, cache=cache, expanded=expanded: cache.scene(expanded | {target.id}))
                close_s, _ = _timed(lambda cache=cache, expanded=expanded: cache.scene(expanded))
                n_open = opened.size  # type: ignore[attr-defined]
                extra = f"expand {target.label!r} ({target.member_count} members): {open_s:.2f}s, {n_open} items; collapse back (cached): {close_s:.3f}s"
        _row(name, len(graph.nodes), view, hier_s, layout_s, scene.size, len(scene.edge_src), extra)


def _edge_list(graph: Graph) -> list[tuple[int, int]]:
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    return sorted(
        {(index[id(v.producer)], j) for j, n in enumerate(graph.nodes) for v in n.input_values() if v.producer is not None}
    )


def compare_libraries() -> None:
    """The same one-level DAGs with igraph's and grandalf's Sugiyama layouts, where installed."""
    try:
        import igraph  # type: ignore[import-not-found]
    except ImportError:
        print("igraph not installed: skipped")
    else:
        for n in (1000, 6000, 20000):
            graph = syn.layered_dag(n, width=20)
            g = igraph.Graph(n=n, edges=_edge_list(graph), directed=True)
            seconds, _ = _timed(g.layout_sugiyama)
            print(f"igraph {igraph.__version__} layout_sugiyama {n:>6} nodes: {seconds:.2f}s")
    try:
        from grandalf.graphs import Edge, Vertex  # type: ignore[import-not-found]
        from grandalf.graphs import Graph as GGraph
        from grandalf.layouts import SugiyamaLayout  # type: ignore[import-not-found]
    except ImportError:
        print("grandalf not installed: skipped")
        return

    class _Box:
        w, h = 80, 30

    for n in (1000, 3000):
        graph = syn.layered_dag(n, width=20)
        vertices = [Vertex(i) for i in range(n)]
        for v in vertices:
            v.view = _Box()
        gg = GGraph(vertices, [Edge(vertices[a], vertices[b]) for a, b in _edge_list(graph)])

        def run(gg: GGraph = gg) -> None:
            for component in gg.C:
                sug = SugiyamaLayout(component)
                sug.init_all()
                sug.draw(3)

        seconds, _ = _timed(run)
        print(f"grandalf SugiyamaLayout {n:>6} nodes: {seconds:.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 100k-node cases")
    parser.add_argument("--compare", action="store_true", help="also time igraph and grandalf, where installed")
    args = parser.parse_args()
    if args.compare:
        compare_libraries()
    print(f"{'case':<28} {'nodes':>7} {'view':<10} {'hier s':>8} {'layout s':>9} {'items':>7} {'edges':>7}")
    for n in (1000, 6000, 20000):
        bench_case("layered DAG, one level", lambda n=n: syn.layered_dag(n, width=20), fold=False, views=("full",))
    bench_case("chain of 300 blocks", lambda: syn.repeated_blocks(300, block_ops=20), fold=True, views=("default", "full"))
    bench_case("Llama-like 32 layers scoped", lambda: syn.decoder(32, scoped=True, shape_ops=44), fold=True, views=("default", "full"))
    bench_case("Llama-like 32 layers flat", lambda: syn.decoder(32, scoped=False, shape_ops=44), fold=True, views=("default", "full"))
    if not args.quick:
        bench_case("flat decoder 100k", lambda: syn.decoder(170, scoped=False, shape_ops=44), fold=True, views=("default",))
        bench_case("flat random DAG 100k", lambda: syn.layered_dag(100_000, width=40), fold=True, views=("default",))


if __name__ == "__main__":
    main()
