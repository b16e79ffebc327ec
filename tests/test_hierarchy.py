"""Hierarchy: groups from scopes, folding of flat graphs, expansion budgets."""

from __future__ import annotations

import pytest

from netray.hierarchy import Hierarchy
from netray.ir import Category, Graph, Node, Port, Tensor, TensorType
from netray.layout import synthetic as syn


def _chain_graph(ops: list[str], scopes: list[tuple[str, ...]] | None = None) -> Graph:
    """x -> op0 -> op1 -> ... with a weight on every op; optional scope per op."""
    g = Graph("chain")
    g.inputs = [g.value("x", TensorType("float32", (1, 4)))]
    prev = "x"
    for i, op in enumerate(ops):
        w = g.value(f"w{i}", TensorType("float32", (4, 4)))
        w.initializer = Tensor(f"w{i}", "float32", (4, 4))
        out = f"y{i}"
        g.add_node(
            Node(
                op,
                name=f"n{i}",
                inputs=[Port("X", [g.value(prev)]), Port("W", [w])],
                outputs=[Port("Y", [g.value(out)])],
                scope=scopes[i] if scopes else (),
            )
        )
        prev = out
    g.outputs = [g.values[prev]]
    return g.link()


def test_groups_follow_scopes_with_ids_counts_and_parameters() -> None:
    g = syn.decoder(3, scoped=True)
    h = Hierarchy.build(g)
    assert "model/layers.1/self_attn" in h.groups
    attn = h.groups["model/layers.1/self_attn"]
    assert attn.label == "self_attn"
    assert attn.kind == "scope"
    assert attn.parent is h.groups["model/layers.1"]
    assert attn.depth == attn.parent.depth + 1
    # op_count counts all levels; the root holds every op; weights counted once overall.
    assert h.root.op_count == len(g.nodes)
    for group in h.groups.values():
        assert group.op_count == len(group.nodes) + sum(c.op_count for c in group.children)
    assert h.root.parameters == g.parameter_count()
    layer = h.groups["model/layers.1"]
    expected = sum(t.size or 0 for t in (v.initializer for v in g.weights()) if t is not None and ".1." in t.name)
    assert layer.parameters == expected
    assert dict(layer.top_ops)["MatMul"] == 9


def test_node_lookup_ancestors_and_reveal() -> None:
    g = syn.decoder(2, scoped=True)
    h = Hierarchy.build(g)
    index = next(i for i, n in enumerate(g.nodes) if n.scope[-1:] == ("input_layernorm",) and "layers.1" in n.scope)
    group = h.group_of(index)
    assert index in group.nodes
    chain = h.ancestors(index)
    assert [a.id for a in chain] == ["model", "model/layers.1", "model/layers.1/input_layernorm"]
    collapsed = frozenset({h.root.id})
    revealed = h.reveal(collapsed, index)
    assert {a.id for a in chain} <= revealed
    assert h.visible_count(revealed) > h.visible_count(collapsed)


def test_a_scope_with_one_op_is_dissolved_into_its_parent() -> None:
    scopes = [("a",), ("a",), ("a", "only"), ("b",), ("b",)]
    h = Hierarchy.build(_chain_graph(["Conv", "Relu", "MatMul", "Add", "Mul"], scopes))
    assert "a/only" not in h.groups
    assert 2 in h.groups["a"].nodes
    assert h.group_of(2) is h.groups["a"]


@pytest.mark.parametrize("layers", [4, 12])
def test_flat_decoder_folds_into_one_repeat_of_n_blocks(layers: int) -> None:
    g = syn.decoder(layers, scoped=False)
    h = Hierarchy.build(g)
    repeats = [c for c in h.root.children if c.kind == "repeat"]
    assert len(repeats) == 1
    rep = repeats[0]
    assert len(rep.children) == layers
    assert rep.label.endswith(f"×{layers}")
    sequences = [[g.nodes[i].op for i in sorted(child.nodes)] for child in rep.children]
    assert all(seq == sequences[0] for seq in sequences)
    # Block boundaries fall between layers: each block starts with the first op of a layer's norm.
    assert sequences[0][0] == "Pow"
    # Only the embedding, mask, rotary and head stay outside.
    assert rep.op_count >= len(g.nodes) - 12


def test_repeated_blocks_fold_and_blocks_cover_every_op_once() -> None:
    g = syn.repeated_blocks(40, block_ops=15)
    h = Hierarchy.build(g)
    rep = next(c for c in h.root.children if c.kind == "repeat")
    assert len(rep.children) >= 39
    seen = sorted(i for grp in h.groups.values() for i in grp.nodes)
    assert seen == list(range(len(g.nodes)))


def test_long_chain_without_repeats_folds_into_chain_groups() -> None:
    ops = [f"Op{i}" for i in range(90)]  # all different: nothing repeats
    h = Hierarchy.build(_chain_graph(ops))
    chains = [c for c in h.root.children if c.kind == "chain"]
    assert chains
    assert sum(c.op_count for c in chains) == 90
    assert all(len(c.nodes) >= 6 for c in chains)


def test_small_graphs_are_not_folded_and_open_fully_expanded() -> None:
    g = _chain_graph(["Conv", "Relu", "Conv", "Relu", "Add"])
    h = Hierarchy.build(g)
    assert h.root.children == []
    scoped = syn.decoder(1, scoped=True)
    hs = Hierarchy.build(scoped)
    assert hs.default_expanded() == hs.all_group_ids()


@pytest.mark.parametrize("budget", [40, 150, 400])
def test_default_expansion_stays_within_budget(budget: int) -> None:
    for g in (syn.decoder(16, scoped=True), syn.decoder(16), syn.layered_dag(3000)):
        h = Hierarchy.build(g)
        expanded = h.default_expanded(budget)
        assert h.root.id in expanded
        assert h.visible_count(expanded) <= max(budget, h.visible_count(frozenset({h.root.id})))
        # Greedy: one more group among the collapsed visible ones would not fit, or none is left.
        assert h.visible_count(h.all_group_ids()) > budget or expanded == h.all_group_ids()


def test_flat_100k_graph_opens_as_an_overview() -> None:
    g = syn.layered_dag(100_000, width=40)
    h = Hierarchy.build(g)
    expanded = h.default_expanded()
    assert h.visible_count(frozenset({h.root.id})) <= 400
    assert h.visible_count(expanded) <= 400
    assert sorted(i for grp in h.groups.values() for i in grp.nodes) == list(range(len(g.nodes)))


def test_expanded_to_depth() -> None:
    h = Hierarchy.build(syn.decoder(2, scoped=True))
    assert h.expanded_to_depth(0) == frozenset({h.root.id})
    one = h.expanded_to_depth(1)
    assert "model" in one and "model/layers.0" not in one
    assert h.expanded_to_depth(99) == h.all_group_ids()


def test_building_leaves_the_graph_untouched() -> None:
    g = syn.decoder(3)
    before = [(n.op, n.scope, len(n.inputs)) for n in g.nodes]
    Hierarchy.build(g)
    assert [(n.op, n.scope, len(n.inputs)) for n in g.nodes] == before


def test_many_numbered_scopes_gather_into_one_repeat_group() -> None:
    g = syn.decoder(12, scoped=True)
    h = Hierarchy.build(g)
    series = h.groups["model/layers.*"]
    assert series.kind == "repeat" and series.parent is h.groups["model"]
    assert series.label == "layers.0 … layers.11 ×12"
    assert [c.id for c in series.children] == [f"model/layers.{k}" for k in range(12)]
    index = next(i for i, n in enumerate(g.nodes) if "layers.7" in n.scope and n.op == "Softmax")
    assert [a.id for a in h.ancestors(index)][:3] == ["model", "model/layers.*", "model/layers.7"]
    # Collapsed, the whole stack is one box.
    assert h.visible_count(frozenset({h.root.id, "model"})) < 12
    few = Hierarchy.build(syn.decoder(3, scoped=True))
    assert "model/layers.*" not in few.groups and few.groups["model/layers.1"].parent is few.groups["model"]


def test_a_very_long_chain_is_cut_into_sections() -> None:
    ops = [f"Op{i}" for i in range(3000)]
    h = Hierarchy.build(_chain_graph(ops))
    expanded = h.default_expanded()
    assert h.visible_count(expanded) <= 400
    chain = next(c for c in h.root.children if c.kind == "chain")
    assert chain.op_count == 3000
    assert chain.children and not chain.nodes
    assert max(c.member_count for c in chain.children) <= 200
    assert sorted(i for grp in h.groups.values() for i in grp.nodes) == list(range(3000))


def test_constants_sit_in_their_consumers_group_not_in_a_fold_of_their_own() -> None:
    """onnx's light ResNet-50 lists its 239 ConstantOfShape weight generators first; each
    must be grouped with the Conv/BatchNormalization that uses it, not folded together."""
    from pathlib import Path

    onnx = pytest.importorskip("onnx")
    import netray

    path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"
    graph = netray.load_model(path).main
    hierarchy = Hierarchy.build(graph)
    constants = [n for n in graph.nodes if n.op == "ConstantOfShape"]
    assert len(constants) > 200
    for node in constants:
        consumer = min((c for v in node.output_values() for c in v.consumers), key=lambda c: c.index)
        assert hierarchy.group_of(node.index) is hierarchy.group_of(consumer.index), node.name
    # The folds that remain are the residual blocks, none made of constants alone.
    for group in hierarchy.groups.values():
        ops = {graph.nodes[i].op for i in group.nodes}
        assert ops != {"ConstantOfShape"}, group.id


def test_group_summary_names_computing_ops_before_constants() -> None:
    """A block's summary says what it computes, even where shape plumbing outnumbers it."""
    ops = ["Constant"] * 10 + ["Unsqueeze"] * 6 + ["MatMul", "Softmax", "MatMul"]
    graph = _chain_graph(ops, [("block",)] * len(ops))
    for node in graph.nodes:
        node.category = {"MatMul": Category.LAYER, "Softmax": Category.ACTIVATION}.get(node.op, Category.SHAPE)
    group = Hierarchy.build(graph, fold=False).groups["block"]
    assert [op for op, _ in group.top_ops][:2] == ["MatMul", "Softmax"]
    assert dict(group.top_ops)["MatMul"] == 2
