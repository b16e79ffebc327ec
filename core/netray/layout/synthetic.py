"""Synthetic graphs shaped like real exports, for the layout's tests and benchmarks.

Built with :mod:`netray.ir` directly (no format library), with weights as
shape-only tensors: a Llama-like decoder (optionally with scopes, optionally
with the shape-computation ops ONNX exports are full of), layered random DAGs,
and chains of repeated blocks.
"""

from __future__ import annotations

import numpy as np

from netray.ir import Category, Graph, Node, Port, Tensor, TensorType

_CATEGORY = {
    "MatMul": Category.LAYER,
    "Conv": Category.LAYER,
    "Gather": Category.TENSOR,
    "Softmax": Category.ACTIVATION,
    "Sigmoid": Category.ACTIVATION,
    "Relu": Category.ACTIVATION,
    "Reshape": Category.SHAPE,
    "Transpose": Category.SHAPE,
    "Shape": Category.SHAPE,
    "Unsqueeze": Category.SHAPE,
    "Concat": Category.TENSOR,
    "SimplifiedLayerNormalization": Category.NORMALIZATION,
}


class _Builder:
    def __init__(self, name: str) -> None:
        self.graph = Graph(name, kind="main")
        self.count = 0

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        v = self.graph.value(name, TensorType("float32", shape))
        v.initializer = Tensor(name, "float32", shape, byte_size=4 * int(np.prod(shape)))
        return name

    def op(
        self,
        op: str,
        inputs: list[str],
        shape: tuple[int | str, ...] | None = None,
        scope: tuple[str, ...] = (),
        attrs: list | None = None,
    ) -> str:
        self.count += 1
        out = f"{op.lower()}_{self.count}"
        node = Node(
            op,
            name=f"{'/'.join(scope)}/{op}_{self.count}" if scope else f"{op}_{self.count}",
            inputs=[Port(f"in{k}", [self.graph.value(i)]) for k, i in enumerate(inputs)],
            outputs=[Port("out", [self.graph.value(out, TensorType("float32", shape))])],
            scope=scope,
            category=_CATEGORY.get(op, Category.OTHER),
            attributes=attrs or [],
        )
        self.graph.add_node(node)
        return out


def decoder(layers: int, *, hidden: int = 64, scoped: bool = False, shape_ops: int = 0) -> Graph:
    """A Llama-like decoder: embedding, ``layers`` blocks (norm, attention with rotary, MLP), head.

    ``shape_ops`` adds that many Shape/Gather/Unsqueeze/Concat groups per attention
    (what ONNX exports compute reshape targets with); about 50 ops per layer plus
    4 per shape op.
    """
    b = _Builder("decoder")
    g = b.graph
    ids = g.value("input_ids", TensorType("int64", ("batch", "seq")))
    mask = g.value("attention_mask", TensorType("int64", ("batch", "seq")))
    g.inputs = [ids, mask]
    act = ("batch", "seq", hidden)
    sc = (lambda *s: ("model", *s)) if scoped else (lambda *s: ())
    x = b.op("Gather", [b.weight("embed.weight", (32000, hidden)), "input_ids"], act, sc("embed_tokens"))
    m = b.op("Cast", ["attention_mask"], ("batch", "seq"), sc())
    m = b.op("Unsqueeze", [m], ("batch", 1, 1, "seq"), sc())
    cos = b.op("Cos", [b.op("MatMul", [b.op("Range", [], ("seq",), sc("rotary")), b.weight("inv_freq", (1, hidden // 4))], ("seq", hidden // 4), sc("rotary"))], ("seq", hidden), sc("rotary"))
    sin = b.op("Sin", [f"matmul_{b.count - 1}"], ("seq", hidden), sc("rotary"))
    for layer in range(layers):
        L = f"layers.{layer}"

        def norm(v: str, name: str, L: str = L) -> str:
            s = sc(L, name)
            p = b.op("Pow", [v], act, s)
            r = b.op("ReduceMean", [p], ("batch", "seq", 1), s)
            a = b.op("Add", [r], ("batch", "seq", 1), s)
            q = b.op("Sqrt", [a], ("batch", "seq", 1), s)
            d = b.op("Div", [v, q], act, s)
            return b.op("Mul", [d, b.weight(f"{L}.{name}.weight", (hidden,))], act, s)

        h = norm(x, "input_layernorm")
        heads = []
        for proj in ("q_proj", "k_proj", "v_proj"):
            s = sc(L, "self_attn", proj)
            t = b.op("MatMul", [h, b.weight(f"{L}.{proj}.weight", (hidden, hidden))], act, s)
            target = b.weight(f"{L}.{proj}.shape", (4,))
            for _ in range(shape_ops):
                sh = b.op("Shape", [t], (3,), sc(L, "self_attn"))
                ga = b.op("Gather", [sh], (), sc(L, "self_attn"))
                un = b.op("Unsqueeze", [ga], (1,), sc(L, "self_attn"))
                target = b.op("Concat", [un, target], (4,), sc(L, "self_attn"))
            t = b.op("Reshape", [t, target], ("batch", "seq", 4, hidden // 4), sc(L, "self_attn"))
            t = b.op("Transpose", [t], ("batch", 4, "seq", hidden // 4), sc(L, "self_attn"))
            if proj != "v_proj":
                s = sc(L, "self_attn", "rotary")
                half = b.op("Slice", [t], ("batch", 4, "seq", hidden // 8), s)
                neg = b.op("Neg", [half], ("batch", 4, "seq", hidden // 8), s)
                rot = b.op("Concat", [neg, half], ("batch", 4, "seq", hidden // 4), s)
                t = b.op("Add", [b.op("Mul", [t, cos], None, s), b.op("Mul", [rot, sin], None, s)], ("batch", 4, "seq", hidden // 4), s)
            heads.append(t)
        s = sc(L, "self_attn")
        kt = b.op("Transpose", [heads[1]], ("batch", 4, hidden // 4, "seq"), s)
        sc_ = b.op("Div", [b.op("MatMul", [heads[0], kt], ("batch", 4, "seq", "seq"), s)], ("batch", 4, "seq", "seq"), s)
        pr = b.op("Softmax", [b.op("Add", [sc_, m], ("batch", 4, "seq", "seq"), s)], ("batch", 4, "seq", "seq"), s)
        o = b.op("MatMul", [pr, heads[2]], ("batch", 4, "seq", hidden // 4), s)
        o = b.op("Reshape", [b.op("Transpose", [o], None, s)], act, s)
        o = b.op("MatMul", [o, b.weight(f"{L}.o_proj.weight", (hidden, hidden))], act, sc(L, "self_attn", "o_proj"))
        x = b.op("Add", [x, o], act, sc(L))
        h = norm(x, "post_attention_layernorm")
        s = sc(L, "mlp")
        gate = b.op("MatMul", [h, b.weight(f"{L}.gate.weight", (hidden, 4 * hidden))], None, sc(L, "mlp", "gate_proj"))
        up = b.op("MatMul", [h, b.weight(f"{L}.up.weight", (hidden, 4 * hidden))], None, sc(L, "mlp", "up_proj"))
        act_ = b.op("Mul", [gate, b.op("Sigmoid", [gate], None, s)], None, s)
        down = b.op("MatMul", [b.op("Mul", [act_, up], None, s), b.weight(f"{L}.down.weight", (4 * hidden, hidden))], act, sc(L, "mlp", "down_proj"))
        x = b.op("Add", [x, down], act, sc(L))
    x = norm_out = b.op("Mul", [x, b.weight("norm.weight", (hidden,))], act, sc("norm"))
    logits = b.op("MatMul", [norm_out, b.weight("lm_head.weight", (hidden, 32000))], ("batch", "seq", 32000), ("lm_head",) if scoped else ())
    g.outputs = [g.values[logits]]
    del x
    return g.link()


def layered_dag(n: int, *, width: int = 20, fan_in: int = 2, max_skip: int = 3, seed: int = 0) -> Graph:
    """A random DAG: ``n`` ops in layers of about ``width``, each fed by ops 1..max_skip layers up."""
    rng = np.random.default_rng(seed)
    b = _Builder(f"dag{n}")
    g = b.graph
    g.inputs = [g.value("x", TensorType("float32", (1, 16)))]
    layers: list[list[str]] = [["x"]]
    ops = ["Add", "Mul", "Relu", "MatMul", "Concat", "Sigmoid"]
    made = 0
    while made < n:
        k = min(n - made, max(1, int(rng.integers(width // 2, width + 1))))
        row = []
        for _ in range(k):
            srcs = []
            for _ in range(int(rng.integers(1, fan_in + 1))):
                back = int(rng.integers(1, min(max_skip, len(layers)) + 1))
                pool = layers[-back]
                srcs.append(pool[int(rng.integers(len(pool)))])
            row.append(b.op(ops[int(rng.integers(len(ops)))], sorted(set(srcs)), (1, 16)))
        made += k
        layers.append(row)
    g.outputs = [g.values[v] for v in layers[-1]]
    return g.link()


def repeated_blocks(blocks: int, *, block_ops: int = 20, seed: int = 0) -> Graph:
    """A flat chain of ``blocks`` copies of one small DAG (a residual block of ``block_ops`` ops)."""
    rng = np.random.default_rng(seed)
    b = _Builder(f"blocks{blocks}")
    g = b.graph
    g.inputs = [g.value("x", TensorType("float32", (1, 8)))]
    ops = [["Conv", "Relu", "Add", "Mul", "BatchNormalization"][int(rng.integers(5))] for _ in range(block_ops)]
    wiring = [int(rng.integers(max(0, k - 3), k)) if k else -1 for k in range(block_ops)]
    x = "x"
    for blk in range(blocks):
        outs: list[str] = []
        for k, op in enumerate(ops):
            src = x if wiring[k] < 0 else outs[wiring[k]]
            inputs = [src]
            if op == "Conv":
                inputs.append(b.weight(f"w{blk}_{k}", (8, 8, 3, 3)))
            outs.append(b.op(op, inputs, (1, 8)))
        x = b.op("Add", [x, outs[-1]], (1, 8))
    g.outputs = [g.values[x]]
    return g.link()
