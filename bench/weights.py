"""Open time and peak memory of weights-only models of a 7B shape, beside Netron.

Builds (cached in bench/.models/, sparse files: the disk holds only headers) a Llama-2-7B
shaped model twice (and the same at TinyLlama-1.1B's shape, ``st1b``/``gguf1b``, a size
Netron's browser tab can still load):

- ``st7b``: a safetensors set as the Hugging Face hub publishes it: 291 bf16 tensors in
  three shards (13.5 GB declared) with ``model.safetensors.index.json``;
- ``gguf7b``: the same tensors in one GGUF file, as llama.cpp's Q4_K_M quantization lays it
  out (q4_k / q6_k blocks, f32 norms, 3.9 GB declared), with a 32,000-token vocabulary.

For each: ``load_s`` (``netray.load_model`` in a fresh process, imports excluded) and that
process's peak resident memory; ``ready_s`` (``netray open --snapshot``: a fresh process to
a drawn window, interpreter start included) with its peak memory; Netron's time to a drawn
view in headless Chromium (bench/netron.py) where netron and Chromium are installed.

    python bench/weights.py [--only st7b gguf7b] [--no-netron] [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
MODELS = BENCH_DIR / ".models"
sys.path.insert(0, str(BENCH_DIR))
from open import load_sibling  # noqa: E402  (bench/open.py: the shared measuring helpers)

# (layers, hidden, feed-forward, vocabulary): Llama-2-7B, and TinyLlama-1.1B for a size Netron opens.
SHAPES = {"7b": (32, 4096, 11008, 32000), "1b": (22, 2048, 5632, 32000)}
LAYERS, HIDDEN, FFN, VOCAB = SHAPES["7b"]


def use_shape(name: str) -> None:
    global LAYERS, HIDDEN, FFN, VOCAB
    LAYERS, HIDDEN, FFN, VOCAB = SHAPES[name]


def llama7b_tensors() -> list[tuple[str, tuple[int, ...]]]:
    """Hugging Face names and shapes of the current Llama shape (Llama-2-7B: 291 tensors)."""
    out = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        out += [(f"{p}.self_attn.{n}_proj.weight", (HIDDEN, HIDDEN)) for n in "qkvo"]
        out += [(f"{p}.mlp.gate_proj.weight", (FFN, HIDDEN)), (f"{p}.mlp.up_proj.weight", (FFN, HIDDEN))]
        out += [(f"{p}.mlp.down_proj.weight", (HIDDEN, FFN))]
        out += [(f"{p}.input_layernorm.weight", (HIDDEN,)), (f"{p}.post_attention_layernorm.weight", (HIDDEN,))]
    return [*out, ("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]


def build_safetensors(folder: Path, shards: int = 3) -> Path:
    """The set as `save_pretrained` writes it: shards of whole tensors, an index; data left sparse."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        return index
    folder.mkdir(parents=True, exist_ok=True)
    tensors = llama7b_tensors()
    per_shard = -(-len(tensors) // shards)
    weight_map: dict[str, str] = {}
    total = 0
    for k in range(shards):
        name = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for tensor, shape in tensors[k * per_shard : (k + 1) * per_shard]:
            size = 2
            for d in shape:
                size *= d
            header[tensor] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
            weight_map[tensor] = name
            offset += size
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        with open(folder / name, "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text)
            f.truncate(8 + len(text) + offset)  # sparse: the data region is a hole
        total += offset
    index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return index


def build_gguf(path: Path) -> Path:
    """A GGUF header of the same tensors, typed as Q4_K_M lays them out; data left sparse."""
    if path.exists():
        return path
    import numpy as np
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    names = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
    parts = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}  # fmt: skip
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Llama-2-7B (netray benchmark, no weights)")
    writer.add_context_length(4096)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(32)
    writer.add_head_count_kv(32)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(15)  # MOSTLY_Q4_K_M
    writer.add_tokenizer_model("llama")
    writer.add_token_list([f"tok{i}" for i in range(VOCAB)])
    writer.add_token_scores([0.0] * VOCAB)
    writer.add_token_types([1] * VOCAB)
    sizes = {Q.F32: (1, 4), Q.Q4_K: (256, 144), Q.Q6_K: (256, 210)}
    for hf_name, shape in llama7b_tensors():
        module, _, leaf = hf_name.rpartition(".")
        if module.startswith("model.layers."):
            layer, _, part = module[len("model.layers.") :].partition(".")
            name = f"blk.{layer}.{parts[part]}.{leaf}"
        else:
            name = f"{names[module]}.{leaf}"
        kind = Q.F32 if len(shape) == 1 else Q.Q6_K if name.endswith(("output.weight", "ffn_down.weight", "attn_v.weight")) else Q.Q4_K
        block, block_bytes = sizes[kind]
        count = int(np.prod(shape))
        writer.add_tensor_info(name, shape, np.dtype(np.float32), count // block * block_bytes, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    # The tensor data starts at the next alignment boundary; leave it a hole of the right length.
    alignment = writer.data_alignment
    data = sum(-(-t.nbytes // alignment) * alignment for t in writer.tensors[0].values())
    end = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(-(-end // alignment) * alignment + data)
    return path


def load_child(path: Path) -> dict[str, Any]:
    """``netray.load_model`` in a fresh process: seconds (imports excluded) and peak RSS."""
    code = (
        "import json, resource, sys, time\n"
        "import netray, netray.plugins\n"
        "netray.plugins.get_manager()\n"
        "t = time.perf_counter(); m = netray.load_model(sys.argv[1]); took = time.perf_counter() - t\n"
        "print(json.dumps({'load_s': round(took, 3), 'peak_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),"
        " 'tensors': sum(1 for _ in m.all_tensors()), 'nodes': sum(len(g.nodes) for g in m.graphs)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def declared_gb(path: Path) -> float:
    files = [path] if path.suffix == ".gguf" else sorted(path.parent.glob("*.safetensors"))
    return round(sum(f.stat().st_size for f in files) / 1e9, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["st7b", "gguf7b", "st1b", "gguf1b"])
    parser.add_argument("--no-netron", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--netron-timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    opener = load_sibling("open")
    netron = None if args.no_netron else load_sibling("netron")
    builders = {
        f"{kind}{shape}": (shape, build)
        for shape in SHAPES
        for kind, build in (
            ("st", lambda s=shape: build_safetensors(MODELS / f"st{s}")),
            ("gguf", lambda s=shape: build_gguf(MODELS / f"gguf{s}" / f"llama{s}-q4_k_m.gguf")),
        )
    }
    report: dict[str, Any] = {"machine": opener.machine(), "models": {}}
    for name in args.only:
        shape, build = builders[name]
        use_shape(shape)
        path = build()
        row: dict[str, Any] = {"file": str(path.relative_to(BENCH_DIR.parent)), "declared_gb": declared_gb(path)}
        loads = [load_child(path) for _ in range(args.repeat)]
        row["load"] = min(loads, key=lambda r: r.get("load_s", 1e9))
        row["ready"] = opener.measure_ready(path, "auto", args.repeat)
        if netron is not None:
            row["netron"] = opener.measure_netron(netron, path, args.repeat, args.netron_timeout)
        report["models"][name] = row
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"machine: {report['machine']}")
    for name, row in report["models"].items():
        load, ready, netron_row = row["load"], row["ready"], row.get("netron", {})
        print(f"{name}: {row['file']} ({row['declared_gb']} GB declared)")
        print(f"  load_model   {load.get('load_s')} s, peak {load.get('peak_mb')} MB, {load.get('tensors')} tensors, {load.get('nodes')} nodes")
        print(f"  netray open  {ready.get('ready_s')} s to a drawn window, peak {ready.get('peak_mb')} MB")
        if netron_row:
            print(f"  Netron       {netron_row.get('ready_s', netron_row.get('status'))} s, peak {netron_row.get('peak_mb')} MB  {netron_row.get('detail', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
