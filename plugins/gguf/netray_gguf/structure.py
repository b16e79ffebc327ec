"""The transformer a GGUF file's tensor names imply, drawn as an inferred graph.

GGUF stores tensors and key/values, no operations. llama.cpp's tensor names are a fixed
vocabulary (``token_embd``, ``blk.N.attn_q``, ``blk.N.ffn_down``, ``output_norm``...), and
its graph builders run the same steps for every decoder of the llama family. From the
names this module draws: the token embedding; per block ``blk.N`` the attention (norm,
q/k/v projections, attention, output projection, residual add) and the MLP (norm,
gate/up/down or up/down, activation, residual add, or a mixture of experts); the output
norm and the head (``output.weight``, or the embedding table when it is tied).

A block whose tensors fit none of these layouts (state-space, RWKV, multi-head latent
attention, adapters) becomes one ``Block`` node holding its tensors, so an unfamiliar
architecture still opens. A file with no ``blk.N`` tensors and no embedding (a vocabulary,
a vision projector) gets no graph. Shapes on edges come from the weights (numpy order)
and the ``{arch}.*`` key/values; the sequence dimension is the symbol ``seq``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from netray import Attribute, Category, Graph, Metadata, MetaValue, Node, Port, Shape, Tensor, TensorType, Value
from netray_gguf.operators import OPERATORS

SEQ = "seq"  # tokens in the batch: at most {arch}.context_length
ACT_DTYPE = "float32"  # llama.cpp computes activations in float32

BLOCK_NAME = re.compile(r"^blk\.(\d+)\.(.+)$")

ATTENTION_STEMS = frozenset(
    {
        "attn_norm",
        "attn_norm_2",
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_qkv",
        "attn_q_norm",
        "attn_k_norm",
        "attn_sinks",
        "attn_rot_embd",
        "attn_sub_norm",
        "attn_output",
        "post_attention_norm",
        "attn_output_norm",
    }
)
DENSE_MLP_STEMS = ("ffn_gate", "ffn_up", "ffn_down")
SHARED_EXPERT_STEMS = ("ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp")
# The mixture-of-experts tensors and the short port names the MoE box lists them under.
MOE_PORTS = {
    "ffn_gate_inp": "router",
    "ffn_gate_exps": "gate",
    "ffn_up_exps": "up",
    "ffn_down_exps": "down",
    "ffn_gate_up_exps": "gate_up",
    "exp_probs_b": "router_bias",
    "ffn_gate_inp_shexp": "shared_gate",
}
MOE_STEMS = tuple(MOE_PORTS)
MLP_STEMS = frozenset(
    {
        "ffn_norm",
        "ffn_sub_norm",
        "post_ffw_norm",
        "layer_output_norm",
        *DENSE_MLP_STEMS,
        *SHARED_EXPERT_STEMS,
        *MOE_STEMS,
    }
)
KNOWN_STEMS = ATTENTION_STEMS | MLP_STEMS

# Tensors outside the blocks that every attention node reads (rotary frequency factors).
ROPE_TENSORS = ("rope_freqs", "rope_factors_long", "rope_factors_short")

# Architectures whose MLP activation is GELU (llama.cpp's builders); the rest of the family uses SiLU.
GELU_ARCHS = frozenset(
    {
        "gpt2",
        "gptj",
        "gptneox",
        "falcon",
        "bloom",
        "mpt",
        "starcoder",
        "starcoder2",
        "refact",
        "phi2",
        "gemma",
        "gemma2",
        "gemma3",
        "gemma3n",
        "gemma-embedding",
        "bert",
        "nomic-bert",
        "nomic-bert-moe",
        "jina-bert-v2",
        "jina-bert-v3",
        "modern-bert",
        "neo-bert",
        "codeshell",
        "persimmon",
        "stablelm",
        "chatglm",
        "glm4",
    }
)
# Encoders (embedding models) end with hidden states; an absent output.weight is no tied head.
ENCODER_ARCHS = frozenset(
    {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "modern-bert", "neo-bert", "t5encoder"}
)


def _port(name: str, kind: str) -> str:
    """The port a tensor is listed under in a box holding several stems: ``ssm_in``, ``ssm_in.bias``."""
    return name if kind == "weight" else f"{name}.{kind}"


def split_name(name: str) -> tuple[str, str]:
    """``attn_q.weight`` -> (``attn_q``, ``weight``); a name without a dot is a weight."""
    stem, dot, kind = name.rpartition(".")
    return (stem, kind) if dot else (name, "weight")


Parts = dict[str, dict[str, Tensor]]  # stem -> kind ("weight", "bias", "scale") -> tensor


@dataclass
class Layout:
    """The model's tensors sorted by role: blocks by index, and the tensors outside them."""

    blocks: dict[int, Parts] = field(default_factory=dict)
    top: Parts = field(default_factory=dict)

    @classmethod
    def of(cls, tensors: Iterable[Tensor]) -> Layout:
        layout = cls()
        for t in tensors:
            match = BLOCK_NAME.match(t.name)
            if match:
                parts = layout.blocks.setdefault(int(match.group(1)), {})
                stem, kind = split_name(match.group(2))
            else:
                parts = layout.top
                stem, kind = split_name(t.name)
            parts.setdefault(stem, {})[kind] = t
        return layout


class Hparams:
    """The ``{arch}.*`` key/values, read defensively: hostile values are simply absent."""

    def __init__(self, meta: Metadata, arch: str) -> None:
        self.meta = meta
        self.arch = arch

    def get(self, key: str, layer: int | None = None) -> MetaValue | None:
        value = self.meta.get(f"{self.arch}.{key}")
        if isinstance(value, list):  # per-layer values (head counts of OpenELM, Jamba ...)
            if layer is None or not 0 <= layer < len(value):
                return None
            value = value[layer]
        return None if isinstance(value, list) else value

    def size(self, key: str, layer: int | None = None) -> int | None:
        value = self.get(key, layer)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 62:
            return value
        return None

    def number(self, key: str) -> float | None:
        value = self.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None

    def flag(self, key: str) -> bool | None:
        value = self.get(key)
        return value if isinstance(value, bool) else None


def rows(t: Tensor | None) -> int | None:
    """Output features of a weight matrix (numpy shape (out, in)); None for anything else."""
    if t is None or t.shape is None or len(t.shape) < 2:
        return None
    d = t.shape[-2]
    return d if isinstance(d, int) else None


def cols(t: Tensor | None) -> int | None:
    if t is None or t.shape is None or len(t.shape) < 1:
        return None
    d = t.shape[-1]
    return d if isinstance(d, int) else None


@dataclass
class Inferred:
    graph: Graph | None
    note: str  # what was drawn, or why nothing was


def infer_graph(meta: Metadata, tensors: dict[str, Tensor]) -> Inferred:
    """The graph the tensor names imply, or None with the reason."""
    arch = meta.get("general.architecture")
    arch = arch if isinstance(arch, str) else ""
    if not tensors:
        return Inferred(None, "no tensors (a vocabulary-only file): key/values only")
    if meta.get("general.type") == "adapter":
        return Inferred(None, "an adapter (LoRA) file: its tensors modify another model's, so no graph is drawn")
    layout = Layout.of(tensors.values())
    if not layout.blocks and "token_embd" not in layout.top:
        return Inferred(
            None,
            f"no decoder blocks (blk.N) and no token_embd among the tensors of this {arch or 'unnamed'} file: "
            "weights only",
        )
    builder = _Builder(Hparams(meta, arch), layout, arch, set(tensors))
    graph = builder.build()
    placed = builder.placed
    unplaced = [name for name in tensors if name not in placed]
    source = f"{arch}.* metadata" if arch else "metadata"
    graph.inferred = f"inferred from tensor names and {source}; GGUF stores no graph"
    count = len(layout.blocks)
    plural = "" if count == 1 else "s"
    note = f"{count} block{plural} drawn as the layout llama.cpp builds for {arch or 'this architecture'}"
    if builder.generic:
        shown = ", ".join(map(str, builder.generic[:8])) + (" …" if len(builder.generic) > 8 else "")
        note += f"; blocks {shown} fit no known layout and show as one Block box each, holding their tensors"
    if unplaced:
        note += f"; {len(unplaced)} tensors are not drawn (in the tensor list only)"
    graph.metadata["inferred blocks"] = len(layout.blocks) - len(builder.generic)
    graph.metadata["generic blocks"] = len(builder.generic)
    return Inferred(graph, note)


class _Builder:
    def __init__(self, hp: Hparams, layout: Layout, arch: str, tensor_names: set[str]) -> None:
        self.hp = hp
        self.tensor_names = tensor_names  # activation names never take a tensor's name
        self.layout = layout
        self.arch = arch
        self.graph = Graph("main", "main")
        self.placed: set[str] = set()
        self.generic: list[int] = []
        self.rms = hp.get("attention.layer_norm_rms_epsilon") is not None
        self.layer_norm = hp.get("attention.layer_norm_epsilon") is not None
        self.activation = "GELU" if arch in GELU_ARCHS else "SiLU"

    # -- nodes ---------------------------------------------------------------------------
    def fresh(self, name: str, type: TensorType) -> Value:
        """A new activation value, named ``name`` unless a tensor or another value has that name."""
        while name in self.graph.values or name in self.tensor_names:
            name += ":out"
        return self.graph.value(name, type)

    def weight(self, t: Tensor) -> Value:
        v = self.graph.value(t.name, TensorType(t.dtype, t.shape))
        v.initializer = t
        self.placed.add(t.name)
        return v

    def op(
        self,
        op: str,
        name: str,
        inputs: list[tuple[str, Value]],
        weights: dict[str, Tensor],
        shape: Shape | None,
        scope: tuple[str, ...] = (),
        attrs: dict[str, MetaValue | None] | None = None,
        out_name: str = "",
    ) -> Value:
        ports = [Port(port, [v]) for port, v in inputs]
        ports += [Port(port, [self.weight(t)]) for port, t in weights.items()]
        out = self.fresh(out_name or name, TensorType(ACT_DTYPE, shape))
        attributes = [a for k, v in (attrs or {}).items() if v is not None and (a := Attribute.of(k, v)) is not None]
        category = Category(OPERATORS[op].category)
        self.graph.add_node(
            Node(
                op,
                name,
                inputs=ports,
                outputs=[Port("output", [out])],
                attributes=attributes,
                category=category,
                scope=scope,
            )
        )
        return out

    def hidden(self, width: int | None) -> Shape:
        return (SEQ, width)

    def norm(self, parts: Parts, stem: str, x: Value, prefix: str, scope: tuple[str, ...]) -> Value:
        weights = parts[stem]
        # The epsilon key says which norm the builder uses; without one, a bias means LayerNorm.
        op = "LayerNorm" if "bias" in weights or (self.layer_norm and not self.rms) else "RMSNorm"
        key = "attention.layer_norm_rms_epsilon" if op == "RMSNorm" else "attention.layer_norm_epsilon"
        return self.op(
            op, prefix + stem, [("x", x)], dict(weights), x.type.shape, scope, {"epsilon": self.hp.number(key)}
        )

    def linear(
        self, parts: Parts, stem: str, x: Value, prefix: str, scope: tuple[str, ...], shape: Shape | None = None
    ) -> Value:
        weights = parts[stem]
        width = rows(weights.get("weight"))
        return self.op("Linear", prefix + stem, [("x", x)], dict(weights), shape or self.hidden(width), scope)

    # -- the model -----------------------------------------------------------------------
    def build(self) -> Graph:
        g, top, hp = self.graph, self.layout.top, self.hp
        embd = top.get("token_embd", {}).get("weight")
        width = cols(embd) or hp.size("embedding_length")  # the table's shape wins over a key that disagrees
        if embd is not None:
            tokens = self.fresh("tokens", TensorType("int32", (SEQ,)))
            context = hp.size("context_length")
            tokens.description = "token ids" + (f"; seq is at most context_length {context:,}" if context else "")
            g.inputs.append(tokens)
            x = self.op(
                "Embedding",
                "token_embd",
                [("tokens", tokens)],
                dict(top["token_embd"]),
                self.hidden(width),
                (),
                {
                    "vocab_size": hp.size("vocab_size") or rows(embd),
                    "embedding_length": width,
                },
            )
        else:
            x = self.fresh("hidden_in", TensorType(ACT_DTYPE, self.hidden(width)))
            g.inputs.append(x)
        for stem in ("token_types", "position_embd"):
            if stem in top:
                x = self.op(
                    "Add",
                    stem,
                    [("x", x)],
                    {_port(stem, k): t for k, t in top[stem].items()},
                    x.type.shape,
                )
        if "token_embd_norm" in top:
            x = self.norm(top, "token_embd_norm", x, "", ())
        rope = {stem: top[stem]["weight"] for stem in ROPE_TENSORS if "weight" in top.get(stem, {})}
        for index in sorted(self.layout.blocks):
            x = self.block(index, self.layout.blocks[index], x, rope)
        if "output_norm" in top:
            x = self.norm(top, "output_norm", x, "", ())
        head = top.get("output", {}).get("weight")
        encoder = self.arch in ENCODER_ARCHS or hp.get("pooling_type") is not None
        if head is not None:
            x = self.op("Linear", "output", [("x", x)], dict(top["output"]), self.hidden(rows(head)), out_name="logits")
        elif embd is not None and not encoder:
            tied: dict[str, MetaValue | None] = {"tied_embeddings": True}
            x = self.op("Linear", "output", [("x", x)], {"weight": embd}, self.hidden(rows(embd)), (), tied, "logits")
        g.outputs.append(x)
        return g.link()

    def block(self, index: int, parts: Parts, x: Value, rope: dict[str, Tensor]) -> Value:
        if not self.recognised(parts):
            return self.generic_block(index, parts, x)
        b = f"blk.{index}"
        prefix = b + "."
        attn, ffn = (b, "attn"), (b, "ffn")
        h = self.norm(parts, "attn_norm", x, prefix, attn) if "attn_norm" in parts else x
        h_mlp = self.norm(parts, "attn_norm_2", x, prefix, attn) if "attn_norm_2" in parts else h
        a = self.attention(index, parts, h, prefix, attn, rope)
        if "post_attention_norm" in parts:
            a = self.norm(parts, "post_attention_norm", a, prefix, attn)
        # No norm before the MLP and none after the attention: attention and MLP read the
        # same input in parallel (GPT-J, Falcon, Phi-2), their outputs both added to x.
        parallel = (
            "ffn_norm" not in parts
            and "post_attention_norm" not in parts
            and "attn_output_norm" not in parts
            and "attn_norm" in parts
        )
        if parallel:
            m = self.mlp(index, parts, h_mlp, prefix, ffn)
            x = self.op("Add", prefix + "attn_residual", [("x", x), ("y", a)], {}, x.type.shape, attn)
            return self.op("Add", prefix + "ffn_residual", [("x", x), ("y", m)], {}, x.type.shape, ffn)
        x = self.op("Add", prefix + "attn_residual", [("x", x), ("y", a)], {}, x.type.shape, attn)
        if "attn_output_norm" in parts:  # BERT: normalize after the residual
            x = self.norm(parts, "attn_output_norm", x, prefix, attn)
        h = self.norm(parts, "ffn_norm", x, prefix, ffn) if "ffn_norm" in parts else x
        m = self.mlp(index, parts, h, prefix, ffn)
        if "post_ffw_norm" in parts:
            m = self.norm(parts, "post_ffw_norm", m, prefix, ffn)
        x = self.op("Add", prefix + "ffn_residual", [("x", x), ("y", m)], {}, x.type.shape, ffn)
        if "layer_output_norm" in parts:
            x = self.norm(parts, "layer_output_norm", x, prefix, ffn)
        return x

    @staticmethod
    def recognised(parts: Parts) -> bool:
        stems = parts.keys()
        attention = ("attn_qkv" in stems or {"attn_q", "attn_k", "attn_v"} <= stems) and "attn_output" in stems
        dense = {"ffn_up", "ffn_down"} <= stems
        moe = "ffn_gate_inp" in stems and ("ffn_down_exps" in stems)
        return attention and (dense or moe) and not (stems - KNOWN_STEMS)

    def generic_block(self, index: int, parts: Parts, x: Value) -> Value:
        self.generic.append(index)
        b = f"blk.{index}"
        weights = {_port(stem, kind): t for stem, kinds in parts.items() for kind, t in kinds.items()}
        return self.op("Block", b, [("x", x)], weights, x.type.shape, (b,), {"tensors": len(weights)})

    def heads(self, t: Tensor | None, count: int | None) -> Shape:
        """(seq, heads, head_dim) for a q/k/v projection when the head count divides it."""
        width = rows(t)
        if width is not None and count and width % count == 0:
            return (SEQ, count, width // count)
        return self.hidden(width)

    def attention(
        self, index: int, parts: Parts, h: Value, prefix: str, scope: tuple[str, ...], rope: dict[str, Tensor]
    ) -> Value:
        hp = self.hp
        n_head = hp.size("attention.head_count", index)
        n_head_kv = hp.size("attention.head_count_kv", index) or n_head
        if "attn_qkv" in parts:
            qkv = self.linear(parts, "attn_qkv", h, prefix, scope)
            inputs = [("qkv", qkv)]
        else:
            q = self.linear(parts, "attn_q", h, prefix, scope, self.heads(parts["attn_q"].get("weight"), n_head))
            k = self.linear(parts, "attn_k", h, prefix, scope, self.heads(parts["attn_k"].get("weight"), n_head_kv))
            v = self.linear(parts, "attn_v", h, prefix, scope, self.heads(parts["attn_v"].get("weight"), n_head_kv))
            if "attn_q_norm" in parts:
                q = self.norm(parts, "attn_q_norm", q, prefix, scope)
            if "attn_k_norm" in parts:
                k = self.norm(parts, "attn_k_norm", k, prefix, scope)
            inputs = [("q", q), ("k", k), ("v", v)]
        extras: dict[str, Tensor] = {}
        for stem in ("attn_sinks", "attn_rot_embd"):
            for kind, t in parts.get(stem, {}).items():
                extras[_port(stem, kind)] = t
        extras.update(rope)
        out = parts["attn_output"].get("weight")
        attrs: dict[str, MetaValue | None] = {
            "attention.head_count": n_head,
            "attention.head_count_kv": n_head_kv,
            "attention.key_length": hp.size("attention.key_length"),
            "attention.value_length": hp.size("attention.value_length"),
            "attention.causal": hp.flag("attention.causal"),
            "attention.sliding_window": hp.size("attention.sliding_window"),
            "context_length": hp.size("context_length"),
            "rope.dimension_count": hp.size("rope.dimension_count"),
            "rope.freq_base": hp.number("rope.freq_base"),
        }
        a = self.op("Attention", prefix + "attn", inputs, extras, self.hidden(cols(out)), scope, attrs)
        if "attn_sub_norm" in parts:  # BitNet: normalize before the output projection
            a = self.norm(parts, "attn_sub_norm", a, prefix, scope)
        return self.linear(parts, "attn_output", a, prefix, scope)

    def mlp(self, index: int, parts: Parts, h: Value, prefix: str, scope: tuple[str, ...]) -> Value:
        if "ffn_gate_inp" in parts and "ffn_down_exps" in parts:
            return self.moe(index, parts, h, prefix, scope)
        return self.dense_mlp(parts, h, prefix, scope, "")

    def dense_mlp(self, parts: Parts, h: Value, prefix: str, scope: tuple[str, ...], suffix: str) -> Value:
        gate, up, down = (f"{stem}{suffix}" for stem in ("ffn_gate", "ffn_up", "ffn_down"))
        u = self.linear(parts, up, h, prefix, scope)
        if gate in parts:
            g = self.linear(parts, gate, h, prefix, scope)
            g = self.op(self.activation, f"{prefix}ffn_act{suffix}", [("x", g)], {}, g.type.shape, scope)
            p = self.op("Mul", f"{prefix}ffn_gate_mul{suffix}", [("x", g), ("y", u)], {}, u.type.shape, scope)
        else:
            up_rows, down_cols = rows(parts[up].get("weight")), cols(parts[down].get("weight"))
            if (
                up_rows is not None and down_cols is not None and up_rows == 2 * down_cols
            ):  # gate and up in one matrix (Phi-3)
                glu = "GeGLU" if self.activation == "GELU" else "SwiGLU"
                p = self.op(glu, f"{prefix}ffn_act{suffix}", [("x", u)], {}, self.hidden(down_cols), scope)
            else:
                p = self.op(self.activation, f"{prefix}ffn_act{suffix}", [("x", u)], {}, u.type.shape, scope)
        if "ffn_sub_norm" in parts and not suffix:  # BitNet: normalize before the down projection
            p = self.norm(parts, "ffn_sub_norm", p, prefix, scope)
        return self.linear(
            parts, down, p, prefix, scope, h.type.shape if rows(parts[down].get("weight")) is None else None
        )

    def moe(self, index: int, parts: Parts, h: Value, prefix: str, scope: tuple[str, ...]) -> Value:
        hp = self.hp
        weights = {_port(port, kind): t for stem, port in MOE_PORTS.items() for kind, t in parts.get(stem, {}).items()}
        attrs: dict[str, MetaValue | None] = {
            "expert_count": hp.size("expert_count"),
            "expert_used_count": hp.size("expert_used_count"),
            "expert_shared_count": hp.size("expert_shared_count"),
            "expert_feed_forward_length": hp.size("expert_feed_forward_length"),
            "activation": self.activation,
        }
        m = self.op("MoE", f"{prefix}ffn_moe", [("x", h)], weights, h.type.shape, scope, attrs)
        if {"ffn_up_shexp", "ffn_down_shexp"} <= parts.keys():
            s = self.dense_mlp(parts, h, prefix, scope, "_shexp")
            m = self.op("Add", f"{prefix}ffn_shared_add", [("x", m), ("y", s)], {}, h.type.shape, scope)
        return m
