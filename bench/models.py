"""Build the scale benchmark's model files, deterministically and without downloads.

The set (issue "Scale: graphs of 100,000 nodes open in seconds"):

- ``llama32_fused``: a 32-layer Llama-style decoder (RMSNorm, rotary embeddings,
  grouped-query attention, SwiGLU MLP) exported by torch's dynamo ONNX exporter at
  opset 23 with its optimizer, so ``F.rms_norm`` and ``scaled_dot_product_attention``
  stay fused as ``RMSNormalization`` and ``Attention`` nodes. Node names are flat
  (``node_MatMul_12``); the module scopes are in each node's metadata
  (``pkg.torch.onnx.name_scopes``, ``namespace``).
- ``llama32_unfused`` / ``llama100_unfused``: the same decoder with everything
  written in primitive ops, exported by the legacy TorchScript exporter, whose
  node names carry scopes (``/model/layers.0/self_attn/MatMul``).
- ``flat100k``: 100,000 nodes with no scopes at all (names without ``/``), built
  with onnx.helper from residual Conv/BatchNorm/Relu blocks.
- ``light_resnet50`` / ``light_densenet121``: copied from the onnx package's
  backend test data (real architectures, tiny constant weights).

Weights are random with a fixed seed and small (hidden size 64), so files stay
small: node count is what the benchmark is about. Each file is cached in the
output folder under a content key (this script's source, the model's name, the
torch and onnx versions); a rebuild happens only when the key changes.

    python bench/models.py [--out bench/.models] [--only NAME ...] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / ".models"

# Decoder sizes: realistic structure, tiny tensors.
HIDDEN = 64
HEADS = 4
KV_HEADS = 2  # grouped-query attention: two query heads share each key/value head
FFN = 128
VOCAB = 256
SEQ = 8
SEED = 0


# --------------------------------------------------------------------------- Llama


def llama_module(layers: int, fused: bool) -> Any:
    """A Llama-style causal decoder with random weights (torch.manual_seed(SEED)).

    Module names follow Hugging Face's LlamaForCausalLM (``model.layers.N.self_attn.q_proj``),
    so the exported scopes look like the real thing. ``fused`` picks torch's fused
    functions (``F.rms_norm``, ``F.scaled_dot_product_attention``) over spelled-out maths.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    class RMSNorm(nn.Module):
        def __init__(self, size: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(size))
            self.eps = 1e-5

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if fused:
                return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)
            variance = x.pow(2).mean(-1, keepdim=True)
            return x * torch.rsqrt(variance + self.eps) * self.weight

    class RotaryEmbedding(nn.Module):
        """cos/sin tables for the positions in view; one per attention, as in HF Llama 4.3x."""

        def __init__(self, head_dim: int) -> None:
            super().__init__()
            inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
            self.inv_freq: torch.Tensor
            self.register_buffer("inv_freq", inv_freq, persistent=False)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            positions = torch.arange(x.shape[-2], dtype=torch.float32)
            freqs = torch.outer(positions, self.inv_freq)
            angles = torch.cat((freqs, freqs), dim=-1)
            return angles.cos(), angles.sin()

    def rotate_half(u: torch.Tensor) -> torch.Tensor:
        half = u.shape[-1] // 2
        return torch.cat((-u[..., half:], u[..., :half]), dim=-1)

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head_dim = HIDDEN // HEADS
            self.q_proj = nn.Linear(HIDDEN, HEADS * self.head_dim, bias=False)
            self.k_proj = nn.Linear(HIDDEN, KV_HEADS * self.head_dim, bias=False)
            self.v_proj = nn.Linear(HIDDEN, KV_HEADS * self.head_dim, bias=False)
            self.o_proj = nn.Linear(HEADS * self.head_dim, HIDDEN, bias=False)
            self.rotary_emb = RotaryEmbedding(self.head_dim)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch, length, _ = x.shape
            q = self.q_proj(x).view(batch, length, HEADS, self.head_dim).transpose(1, 2)
            k = self.k_proj(x).view(batch, length, KV_HEADS, self.head_dim).transpose(1, 2)
            v = self.v_proj(x).view(batch, length, KV_HEADS, self.head_dim).transpose(1, 2)
            cos, sin = self.rotary_emb(v)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if fused:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            else:
                k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
                v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
                scores = (q @ k.transpose(-1, -2)) / (self.head_dim**0.5)
                mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
                out = torch.softmax(scores + mask, dim=-1) @ v
            return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gate_proj = nn.Linear(HIDDEN, FFN, bias=False)
            self.up_proj = nn.Linear(HIDDEN, FFN, bias=False)
            self.down_proj = nn.Linear(FFN, HIDDEN, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class DecoderLayer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_layernorm = RMSNorm(HIDDEN)
            self.self_attn = Attention()
            self.post_attention_layernorm = RMSNorm(HIDDEN)
            self.mlp = MLP()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x + self.self_attn(self.input_layernorm(x))
            return x + self.mlp(self.post_attention_layernorm(x))

    class LlamaModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
            self.layers = nn.ModuleList([DecoderLayer() for _ in range(layers)])
            self.norm = RMSNorm(HIDDEN)

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            x = self.embed_tokens(input_ids)
            for layer in self.layers:
                x = layer(x)
            return self.norm(x)

    class LlamaForCausalLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = LlamaModel()
            self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.lm_head(self.model(input_ids))

    torch.manual_seed(SEED)
    return LlamaForCausalLM().eval()


def export_llama(path: Path, layers: int, fused: bool) -> None:
    """Export the decoder to ONNX at ``path`` (weights inside the file)."""
    import torch

    # The dynamo exporter logs optional registrations (torchvision) that are not ours.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    module = llama_module(layers, fused)
    input_ids = torch.zeros(1, SEQ, dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fused:
            # dynamo exporter + optimizer; opset 23 has RMSNormalization and Attention.
            program = torch.onnx.export(
                module,
                (input_ids,),
                dynamo=True,
                opset_version=23,
                optimize=True,
                input_names=["input_ids"],
                output_names=["logits"],
                verbose=False,
            )
            assert program is not None
            program.save(str(path), external_data=False)
        else:
            # Legacy TorchScript exporter: scoped node names, every op spelled out;
            # dynamic batch and sequence add the Shape/Gather arithmetic real exports have.
            torch.onnx.export(
                module,
                (input_ids,),
                str(path),
                dynamo=False,
                opset_version=18,
                do_constant_folding=False,
                input_names=["input_ids"],
                output_names=["logits"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
            )


# --------------------------------------------------------------------------- flat


FLAT_CHANNELS = 4
FLAT_BLOCK = ("Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Add", "Relu")


def flat_model(node_count: int) -> Any:
    """An onnx ModelProto of exactly ``node_count`` nodes in one flat, unscoped graph.

    Residual blocks of Conv/BatchNorm/Relu (1x1 convolutions on 4 channels, each
    with its own weights), then Relu nodes to make up the count. Names carry no
    ``/``, so no hierarchy can come from them.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(SEED)
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    current = "input"

    def add_initializer(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(x: str, tag: str) -> str:
        weight = add_initializer(f"{tag}_conv_weight", rng.standard_normal((FLAT_CHANNELS, FLAT_CHANNELS, 1, 1)) * 0.5)
        conv_out = f"{tag}_conv_out"
        nodes.append(helper.make_node("Conv", [x, weight], [conv_out], name=f"{tag}_conv"))
        scale = add_initializer(f"{tag}_bn_scale", np.ones(FLAT_CHANNELS))
        bias = add_initializer(f"{tag}_bn_bias", np.zeros(FLAT_CHANNELS))
        mean = add_initializer(f"{tag}_bn_mean", rng.standard_normal(FLAT_CHANNELS) * 0.1)
        var = add_initializer(f"{tag}_bn_var", np.ones(FLAT_CHANNELS))
        bn_out = f"{tag}_bn_out"
        nodes.append(
            helper.make_node("BatchNormalization", [conv_out, scale, bias, mean, var], [bn_out], name=f"{tag}_bn")
        )
        return bn_out

    blocks, remainder = divmod(node_count, len(FLAT_BLOCK))
    for b in range(blocks):
        tag = f"block{b}"
        first = conv_bn(current, f"{tag}_a")
        nodes.append(helper.make_node("Relu", [first], [f"{tag}_a_relu_out"], name=f"{tag}_a_relu"))
        second = conv_bn(f"{tag}_a_relu_out", f"{tag}_b")
        nodes.append(helper.make_node("Add", [second, current], [f"{tag}_sum"], name=f"{tag}_add"))
        nodes.append(helper.make_node("Relu", [f"{tag}_sum"], [f"{tag}_out"], name=f"{tag}_relu"))
        current = f"{tag}_out"
    for r in range(remainder):
        nodes.append(helper.make_node("Relu", [current], [f"tail{r}_out"], name=f"tail{r}_relu"))
        current = f"tail{r}_out"
    # The last node writes the graph output.
    nodes[-1].output[0] = "output"

    shape = [1, FLAT_CHANNELS, 8, 8]
    graph = helper.make_graph(
        nodes,
        f"flat{node_count}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        initializer=initializers,
    )
    model = helper.make_model(graph, producer_name="netray-bench", opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write_flat(path: Path, node_count: int) -> None:
    import onnx

    onnx.save_model(flat_model(node_count), str(path))


# --------------------------------------------------------------------------- onnx test data


def onnx_test_data(name: str) -> Path:
    """A model file from the onnx package's light backend test data."""
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"{name}.onnx"


def copy_onnx_test_data(path: Path, name: str) -> None:
    shutil.copyfile(onnx_test_data(name), path)


# --------------------------------------------------------------------------- the set


@dataclass(frozen=True)
class BenchModel:
    """One benchmark model: its name, what it is, and how to write it."""

    name: str
    description: str
    build: Callable[[Path], None]


MODELS: tuple[BenchModel, ...] = (
    BenchModel(
        "light_resnet50", "ResNet-50 (onnx backend test data)", lambda p: copy_onnx_test_data(p, "light_resnet50")
    ),
    BenchModel(
        "light_densenet121",
        "DenseNet-121 (onnx backend test data)",
        lambda p: copy_onnx_test_data(p, "light_densenet121"),
    ),
    BenchModel(
        "llama32_fused",
        "Llama decoder, 32 layers, fused ops (dynamo exporter, opset 23)",
        lambda p: export_llama(p, 32, True),
    ),
    BenchModel(
        "llama32_unfused",
        "Llama decoder, 32 layers, primitive ops (TorchScript exporter)",
        lambda p: export_llama(p, 32, False),
    ),
    BenchModel(
        "llama100_unfused",
        "Llama decoder, 100 layers, primitive ops (TorchScript exporter)",
        lambda p: export_llama(p, 100, False),
    ),
    BenchModel("flat100k", "flat 100,000-node graph without scopes (onnx.helper)", lambda p: write_flat(p, 100_000)),
)
MODEL_NAMES = tuple(m.name for m in MODELS)


def content_key(name: str) -> str:
    """What a cached file depends on: this script, the model's name, the library versions."""
    import onnx

    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError:  # only the llama models need torch
        torch_version = "none"
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    digest.update(f"{name}|torch {torch_version}|onnx {onnx.__version__}".encode())
    return digest.hexdigest()[:16]


def model_path(name: str, out: Path = DEFAULT_OUT) -> Path:
    return out / f"{name}.onnx"


def describe(path: Path) -> dict[str, Any]:
    """Node count (main graph) and file size of an ONNX file."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {"nodes": len(proto.graph.node), "bytes": path.stat().st_size}


def build(name: str, out: Path = DEFAULT_OUT, force: bool = False) -> dict[str, Any]:
    """Write model ``name`` into ``out`` unless a file with the same content key is there.

    Returns its record: name, path, nodes, bytes, key, build seconds (None when cached).
    """
    model = next((m for m in MODELS if m.name == name), None)
    if model is None:
        raise KeyError(f"unknown benchmark model {name!r}; known: {', '.join(MODEL_NAMES)}")
    out.mkdir(parents=True, exist_ok=True)
    path = model_path(name, out)
    record_path = out / f"{name}.json"
    key = content_key(name)
    if not force and path.is_file() and record_path.is_file():
        record: dict[str, Any] = json.loads(record_path.read_text())
        if record.get("key") == key:
            return {**record, "path": str(path), "build_s": None}
    started = time.monotonic()
    # Write beside the target and rename, so an interrupted build leaves no half file.
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        partial = Path(scratch) / path.name
        model.build(partial)
        os.replace(partial, path)
    record = {"name": name, "description": model.description, "key": key, **describe(path)}
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return {**record, "path": str(path), "build_s": round(time.monotonic() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder (default bench/.models)")
    parser.add_argument(
        "--only", action="append", choices=MODEL_NAMES, metavar="NAME", help="build only NAME (repeatable)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    args = parser.parse_args(argv)
    records = []
    for name in args.only or MODEL_NAMES:
        record = build(name, args.out, args.force)
        records.append(record)
        if not args.json:
            built = "cached" if record["build_s"] is None else f"built in {record['build_s']:.1f} s"
            print(f"{name:20} {record['nodes']:>8,} nodes {record['bytes'] / 1e6:>8.2f} MB  {built}", flush=True)
    if args.json:
        print(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
