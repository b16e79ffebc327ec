"""GGUF files for the tests: written by the gguf package's GGUFWriter (as llama.cpp's converters
write them), and raw header bytes for hostile input the writer refuses to produce."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFEndian, GGUFValueType, GGUFWriter
from gguf.quants import quantize

Q = GGMLQuantizationType


@dataclass
class TensorSpec:
    """A tensor to write: ``values`` (float32, numpy shape) stored as ``qtype``."""

    name: str
    values: np.ndarray
    qtype: GGMLQuantizationType = Q.F32


@dataclass
class GgufSpec:
    arch: str = "llama"
    kv: dict[str, Any] = field(default_factory=dict)  # plain Python values: the writer picks the type
    typed_kv: list[tuple[str, Any, GGUFValueType, GGUFValueType | None]] = field(default_factory=list)
    tensors: list[TensorSpec] = field(default_factory=list)
    big_endian: bool = False
    alignment: int | None = None


def stored(spec: TensorSpec) -> np.ndarray:
    """The array GGUFWriter is given for a tensor: plain numpy, or quantized blocks as uint8."""
    if spec.qtype == Q.F32:
        return spec.values.astype(np.float32)
    if spec.qtype == Q.F16:
        return spec.values.astype(np.float16)
    return quantize(spec.values.astype(np.float32), spec.qtype)


def write_gguf(path: Path, spec: GgufSpec) -> Path:
    endian = GGUFEndian.BIG if spec.big_endian else GGUFEndian.LITTLE
    writer = GGUFWriter(path, spec.arch, endianess=endian)
    if spec.alignment is not None:
        writer.add_custom_alignment(spec.alignment)
    for key, value in spec.kv.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, value)
    for key, value, vtype, sub_type in spec.typed_kv:
        writer.add_key_value(key, value, vtype, sub_type)
    for t in spec.tensors:
        data = stored(t)
        raw_dtype = None if t.qtype in (Q.F32, Q.F16) else t.qtype
        writer.add_tensor(t.name, data, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def rand(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(np.float32)


def llama_spec(
    blocks: int = 3,
    embd: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    ff: int = 128,
    vocab: int = 96,
    qtype: GGMLQuantizationType = Q.Q8_0,
    tied: bool = False,
) -> GgufSpec:
    """A small llama-style decoder with grouped-query attention, as convert_hf_to_gguf names it."""
    head_dim = embd // heads
    kv = {
        "general.name": "tiny llama",
        "llama.block_count": blocks,
        "llama.context_length": 2048,
        "llama.embedding_length": embd,
        "llama.feed_forward_length": ff,
        "llama.attention.head_count": heads,
        "llama.attention.head_count_kv": kv_heads,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "llama.rope.dimension_count": head_dim,
        "llama.rope.freq_base": 10000.0,
        "general.file_type": 15,
    }
    tensors = [TensorSpec("token_embd.weight", rand((vocab, embd), 1), qtype)]
    seed = 2
    for b in range(blocks):
        for stem, shape in (
            ("attn_norm", (embd,)),
            ("attn_q", (heads * head_dim, embd)),
            ("attn_k", (kv_heads * head_dim, embd)),
            ("attn_v", (kv_heads * head_dim, embd)),
            ("attn_output", (embd, heads * head_dim)),
            ("ffn_norm", (embd,)),
            ("ffn_gate", (ff, embd)),
            ("ffn_up", (ff, embd)),
            ("ffn_down", (embd, ff)),
        ):
            seed += 1
            tensors.append(TensorSpec(f"blk.{b}.{stem}.weight", rand(shape, seed), Q.F32 if len(shape) == 1 else qtype))
    tensors.append(TensorSpec("output_norm.weight", rand((embd,), 99)))
    if not tied:
        tensors.append(TensorSpec("output.weight", rand((vocab, embd), 100), qtype))
    return GgufSpec("llama", kv, tensors=tensors)


# -- raw bytes, for what the writer will not produce ----------------------------------------
def gguf_string(text: str | bytes, length: int | None = None) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data) if length is None else length) + data


def kv_bytes(key: str, vtype: int, payload: bytes) -> bytes:
    return gguf_string(key) + struct.pack("<I", vtype) + payload


def tensor_info_bytes(name: str, ne: Iterable[int], ggml_type: int, offset: int) -> bytes:
    dims = list(ne)
    return (
        gguf_string(name)
        + struct.pack("<I", len(dims))
        + b"".join(struct.pack("<Q", d) for d in dims)
        + struct.pack("<IQ", ggml_type, offset)
    )


def raw_gguf(
    kvs: Sequence[bytes] = (),
    infos: Sequence[bytes] = (),
    data: bytes = b"",
    version: int = 3,
    tensor_count: int | None = None,
    kv_count: int | None = None,
) -> bytes:
    head = b"GGUF" + struct.pack(
        "<IQQ",
        version,
        len(infos) if tensor_count is None else tensor_count,
        len(kvs) if kv_count is None else kv_count,
    )
    body = head + b"".join(kvs) + b"".join(infos)
    padding = -len(body) % 32
    return body + bytes(padding) + data
