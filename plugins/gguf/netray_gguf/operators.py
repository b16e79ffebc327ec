"""The operations of the inferred GGUF graph, as data: category and a line of documentation.

GGUF stores no operations; these are the steps llama.cpp's graph builders run for a
transformer, named as a reader of a model card would name them.
"""

from __future__ import annotations

from typing import NamedTuple


class OpSpec(NamedTuple):
    category: str
    summary: str
    inputs: tuple[str, ...] = ()


OPERATORS: dict[str, OpSpec] = {
    "Embedding": OpSpec(
        "layer", "Looks up each token id's row of the embedding table (token_embd).", ("tokens", "weight")
    ),
    "RMSNorm": OpSpec(
        "normalization", "Root-mean-square normalization over the embedding, times a learned weight.", ("x", "weight")
    ),
    "LayerNorm": OpSpec(
        "normalization",
        "Layer normalization over the embedding, with a learned weight and bias.",
        ("x", "weight", "bias"),
    ),
    "Linear": OpSpec(
        "layer",
        "Matrix product with a weight matrix (ggml mul_mat), plus a bias where the file has one.",
        ("x", "weight", "bias"),
    ),
    "Attention": OpSpec(
        "layer",
        "Scaled dot-product self-attention over the heads "
        "(rotary positions applied to q and k where the model uses RoPE).",
        ("q", "k", "v"),
    ),
    "Add": OpSpec(
        "tensor", "Elementwise sum: a residual connection, or a learned position / token-type embedding.", ("x", "y")
    ),
    "Mul": OpSpec("tensor", "Elementwise product: the gate of a gated MLP.", ("x", "y")),
    "SiLU": OpSpec(
        "activation",
        "Sigmoid linear unit x*sigmoid(x), the activation of SwiGLU MLPs (inferred from the architecture).",
    ),
    "GELU": OpSpec("activation", "Gaussian error linear unit (inferred from the architecture)."),
    "SwiGLU": OpSpec(
        "activation", "SiLU of the first half of the input times its second half (gate and up fused in one matrix)."
    ),
    "GeGLU": OpSpec(
        "activation", "GELU of the first half of the input times its second half (gate and up fused in one matrix)."
    ),
    "MoE": OpSpec(
        "layer",
        "Mixture of experts: a router (ffn_gate_inp) picks expert_used_count of expert_count expert MLPs "
        "per token and mixes their outputs.",
        ("x",),
    ),
    "Block": OpSpec(
        "custom",
        "A block whose tensors fit no layout this plugin draws (state-space, RWKV, MLA ...): "
        "its tensors, not its steps.",
    ),
}
