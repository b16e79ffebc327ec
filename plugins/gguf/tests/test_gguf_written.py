"""GGUF files written here with the gguf package's GGUFWriter (as llama.cpp's converters write
them): tensor types and values, key/value types, and the graphs inferred for several layouts."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFValueType
from gguf_test_files import GgufSpec, Q, TensorSpec, llama_spec, rand, write_gguf

import netray.testing
from netray import Category, FormatError, Model, dtypes
from netray.plugins import PluginManager
from netray_gguf import plugin as gguf_plugin
from netray_gguf.reader import read_gguf


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(gguf_plugin, "gguf")
    return pm


def load(path: Path) -> Model:
    return read_gguf(path)


# -- independent dequantizers, written from ggml-common.h's block layouts --------------------
def q8_0_reference(raw: np.ndarray) -> np.ndarray:
    blocks = raw.reshape(-1, 34)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)
    q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def q4_0_reference(raw: np.ndarray) -> np.ndarray:
    blocks = raw.reshape(-1, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8  # low nibbles first
    return (d * q).reshape(-1)


def q4_k_block(d: float, dmin: float, scales: list[int], mins: list[int], nibbles: np.ndarray) -> bytes:
    """One Q4_K super-block of 256 with 6-bit sub-block scales and minimums below 16
    (so the high bits packed into bytes 0..7 stay zero, and bytes 8..11 hold the rest)."""
    assert all(0 <= v < 16 for v in scales + mins)
    packed = bytearray(12)
    for j in range(4):
        packed[j] = scales[j]
        packed[j + 4] = mins[j]
    for j in range(4, 8):
        packed[j + 4] = scales[j] | (mins[j] << 4)
    qs = bytearray(128)
    for chunk in range(4):  # 64 elements: 32 low nibbles (sub-block 2c), then 32 high (2c+1)
        low = nibbles[chunk * 64 : chunk * 64 + 32]
        high = nibbles[chunk * 64 + 32 : chunk * 64 + 64]
        for i in range(32):
            qs[chunk * 32 + i] = int(low[i]) | (int(high[i]) << 4)
    return struct.pack("<ee", d, dmin) + bytes(packed) + bytes(qs)


def q4_k_reference(d: float, dmin: float, scales: list[int], mins: list[int], nibbles: np.ndarray) -> np.ndarray:
    sub = np.repeat(np.arange(8), 32)
    return (np.float32(d) * np.array(scales)[sub] * nibbles - np.float32(dmin) * np.array(mins)[sub]).astype(np.float32)


# -- tensors -----------------------------------------------------------------------------------
def test_plain_types_round_trip(tmp_path: Path) -> None:
    values = rand((3, 5, 64))
    ints = np.arange(-20, 20, dtype=np.int32).reshape(4, 10)
    spec = GgufSpec(
        "custom",
        tensors=[TensorSpec("f32", values), TensorSpec("f16", values, Q.F16), TensorSpec("bf16", values, Q.BF16)],
    )
    path = write_gguf(tmp_path / "plain.gguf", spec)
    model = load(path)
    f32, f16, bf16 = (model.tensors[n] for n in ("f32", "f16", "bf16"))
    assert (f32.dtype, f16.dtype, bf16.dtype) == ("float32", "float16", "bfloat16")
    assert f32.shape == (3, 5, 64) and f32.byte_size == values.size * 4 and bf16.byte_size == values.size * 2
    assert np.array_equal(f32.numpy(), values)
    assert np.array_equal(f16.numpy(), values.astype(np.float16))
    got = bf16.numpy()
    assert got.dtype == dtypes.numpy_dtype("bfloat16")
    assert np.allclose(got.astype(np.float32), values, rtol=1 / 128)
    assert f32.quantization is None
    # Integer tensors through the writer's numpy path.
    from gguf import GGUFWriter

    writer = GGUFWriter(tmp_path / "ints.gguf", "custom")
    writer.add_tensor("i32", ints)
    writer.add_tensor("i8", ints.astype(np.int8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    model = load(tmp_path / "ints.gguf")
    assert model.tensors["i32"].dtype == "int32" and np.array_equal(model.tensors["i32"].numpy(), ints)
    assert model.tensors["i8"].dtype == "int8" and np.array_equal(model.tensors["i8"].numpy(), ints.astype(np.int8))


@pytest.mark.parametrize(
    ("qtype", "block", "step"),
    [
        (Q.Q8_0, 32, 1 / 127),
        (Q.Q4_0, 32, 1 / 7),
        (Q.Q4_1, 32, 2 / 15),
        (Q.Q5_0, 32, 1 / 15),
        (Q.Q5_1, 32, 2 / 31),
        (Q.MXFP4, 32, 1 / 2),
    ],
)
def test_quantized_values_within_quantization_error(tmp_path: Path, qtype: Q, block: int, step: float) -> None:
    values = rand((6, 128), 7)
    path = write_gguf(tmp_path / f"{qtype.name}.gguf", GgufSpec("custom", tensors=[TensorSpec("w", values, qtype)]))
    t = load(path).tensors["w"]
    name = qtype.name.lower()
    assert t.dtype == name and t.shape == (6, 128)
    assert t.quantization is not None and t.quantization.scheme == name and t.quantization.block_size == block
    assert t.byte_size == dtypes.byte_size(name, values.size)
    got = t.numpy()
    assert got.dtype == np.float32 and got.shape == (6, 128)
    peak = np.abs(values.reshape(-1, block)).max(axis=1, keepdims=True)  # each block's scale follows its peak
    error = np.abs(got.reshape(-1, block) - values.reshape(-1, block))
    assert (error <= peak * step + 1e-6).all()


def test_q8_0_and_q4_0_against_the_block_layout(tmp_path: Path) -> None:
    values = rand((4, 64), 3)
    spec = GgufSpec("custom", tensors=[TensorSpec("q8", values, Q.Q8_0), TensorSpec("q4", values, Q.Q4_0)])
    path = write_gguf(tmp_path / "blocks.gguf", spec)
    model = load(path)
    for name, reference in (("q8", q8_0_reference), ("q4", q4_0_reference)):
        t = model.tensors[name]
        offset = t.metadata["offset"]
        assert isinstance(offset, int) and t.byte_size is not None
        raw = np.frombuffer(path.read_bytes()[offset : offset + t.byte_size], np.uint8)
        assert np.array_equal(t.numpy().reshape(-1), reference(raw))


def test_q4_k_against_a_hand_built_super_block(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    blocks, expected = [], []
    for k in range(3):
        scales = [int(v) for v in rng.integers(0, 16, 8)]
        mins = [int(v) for v in rng.integers(0, 16, 8)]
        nibbles = rng.integers(0, 16, 256)
        d, dmin = 0.25 * (k + 1), 0.125
        blocks.append(q4_k_block(d, dmin, scales, mins, nibbles))
        expected.append(q4_k_reference(d, dmin, scales, mins, nibbles))
    raw = np.frombuffer(b"".join(blocks), np.uint8).reshape(3, 144)
    from gguf import GGUFWriter

    writer = GGUFWriter(tmp_path / "q4k.gguf", "custom")
    writer.add_tensor("w", raw, raw_dtype=Q.Q4_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    t = load(tmp_path / "q4k.gguf").tensors["w"]
    assert t.dtype == "q4_k" and t.shape == (3, 256) and t.byte_size == 3 * 144
    assert t.quantization is not None and (t.quantization.scheme, t.quantization.block_size) == ("q4_k", 256)
    assert np.allclose(t.numpy(), np.stack(expected), atol=1e-6)


@pytest.mark.parametrize("qtype", [Q.Q2_K, Q.Q3_K, Q.Q5_K, Q.Q6_K, Q.IQ4_NL, Q.IQ2_XXS, Q.TQ2_0])
def test_other_block_types_dequantize_to_float32(tmp_path: Path, qtype: Q) -> None:
    """Types the gguf package dequantizes but does not quantize: random blocks with finite scales."""
    from gguf import GGUFWriter
    from gguf.constants import GGML_QUANT_SIZES

    block, size = GGML_QUANT_SIZES[qtype]
    raw = np.random.default_rng(1).integers(0, 256, (2, 256 // block * size), dtype=np.uint8)
    writer = GGUFWriter(tmp_path / "t.gguf", "custom")
    writer.add_tensor("w", raw, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    t = load(tmp_path / "t.gguf").tensors["w"]
    assert t.dtype == qtype.name.lower() and t.shape == (2, 256)
    got = t.numpy()
    assert got.dtype == np.float32 and got.shape == (2, 256)


def test_a_type_gguf_cannot_dequantize_says_so(tmp_path: Path) -> None:
    from gguf import GGUFWriter

    writer = GGUFWriter(tmp_path / "q1_0.gguf", "custom")
    writer.add_tensor("w", np.zeros((2, 18), np.uint8), raw_dtype=Q.Q1_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    t = load(tmp_path / "q1_0.gguf").tensors["w"]
    # A block type newer than netray's table: defined from gguf's sizes, shown, not computed.
    assert t.dtype == "q1_0" and t.shape == (2, 128) and t.byte_size == 36
    assert dtypes.byte_size("q1_0", 256) == 36
    with pytest.raises(FormatError, match="cannot dequantize Q1_0"):
        t.numpy()


def test_nothing_is_read_or_dequantized_at_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gguf.quants

    path = write_gguf(tmp_path / "m.gguf", llama_spec(qtype=Q.Q4_0))

    def refuse(*args: object) -> None:
        raise AssertionError("dequantize called while opening")

    monkeypatch.setattr(gguf.quants, "dequantize", refuse)
    model = load(path)
    assert model.tensors["blk.0.attn_q.weight"].dtype == "q4_0"
    monkeypatch.undo()
    assert model.tensors["blk.0.attn_q.weight"].numpy().shape == (64, 64)


def test_big_endian_file(tmp_path: Path) -> None:
    values = rand((4, 32))
    spec = GgufSpec("custom", kv={"custom.answer": 42, "custom.tokens": ["a", "b"]}, big_endian=True)
    spec.tensors = [TensorSpec("f32", values), TensorSpec("f16", values, Q.F16)]
    path = tmp_path / "be.gguf"
    from gguf import GGUFEndian, GGUFWriter

    writer = GGUFWriter(path, "custom", endianess=GGUFEndian.BIG)
    writer.add_uint32("custom.answer", 42)
    writer.add_array("custom.tokens", ["a", "b"])
    writer.add_tensor("f32", values)
    writer.add_tensor("f16", values.astype(np.float16))
    writer.add_tensor("q8", __import__("gguf").quants.quantize(values, Q.Q8_0), raw_dtype=Q.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    model = load(path)
    assert model.properties["byte order"] == "big-endian"
    assert model.metadata["custom.answer"] == 42 and model.metadata["custom.tokens"] == ["a", "b"]
    f32 = model.tensors["f32"].numpy()
    assert f32.dtype == np.float32 and np.array_equal(f32, values)
    assert np.array_equal(model.tensors["f16"].numpy(), values.astype(np.float16))
    with pytest.raises(FormatError, match="big-endian"):
        model.tensors["q8"].numpy()


# -- key/values ---------------------------------------------------------------------------------
def test_key_value_types(tmp_path: Path) -> None:
    V = GGUFValueType
    typed = [
        ("t.u8", 200, V.UINT8, None),
        ("t.i8", -100, V.INT8, None),
        ("t.u16", 60000, V.UINT16, None),
        ("t.i16", -30000, V.INT16, None),
        ("t.u32", 4_000_000_000, V.UINT32, None),
        ("t.i32", -2_000_000_000, V.INT32, None),
        ("t.u64", 2**63 + 5, V.UINT64, None),
        ("t.i64", -(2**62), V.INT64, None),
        ("t.f32", 0.5, V.FLOAT32, None),
        ("t.f64", 1 / 3, V.FLOAT64, None),
        ("t.yes", True, V.BOOL, None),
        ("t.no", False, V.BOOL, None),
        ("t.text", "héllo ✓", V.STRING, None),
        ("t.ints", [1, -2, 3], V.ARRAY, V.INT32),
        ("t.floats", [0.25, -1.5], V.ARRAY, V.FLOAT32),
        ("t.bools", [True, False, True], V.ARRAY, V.BOOL),
        ("t.strings", ["a", "", "ü"], V.ARRAY, V.STRING),
        ("t.nested", [[1, 2], [3]], V.ARRAY, None),
        ("t.u64s", [2**64 - 1, 0], V.ARRAY, V.UINT64),
    ]
    path = write_gguf(tmp_path / "kv.gguf", GgufSpec("custom", typed_kv=typed, tensors=[TensorSpec("x", rand((4,)))]))
    meta = load(path).metadata
    assert meta["general.architecture"] == "custom"
    for key, value, _, _ in typed:
        assert meta[key] == value, key
        assert type(meta[key]) is type(value), key
    assert all(type(v) is bool for v in meta["t.bools"])  # type: ignore[union-attr]
    assert all(type(v) is float for v in meta["t.floats"])  # type: ignore[union-attr]


def test_file_type_name_and_producer(tmp_path: Path) -> None:
    spec = llama_spec(blocks=1)
    spec.kv.update({"general.quantized_by": "someone", "general.size_label": "1M", "general.description": "a test"})
    model = load(write_gguf(tmp_path / "m.gguf", spec))
    assert model.properties["file type"] == "MOSTLY_Q4_K_M"  # general.file_type = 15
    assert model.producer == "someone"
    assert model.description == "tiny llama 1M; llama architecture; a test"
    assert model.metadata["general.file_type"] == 15


def test_split_shard_says_so(tmp_path: Path) -> None:
    spec = GgufSpec("llama", kv={"split.count": 3}, tensors=[TensorSpec("blk.0.attn_q.weight", rand((8, 8)))])
    spec.typed_kv = [
        ("split.no", 0, GGUFValueType.UINT16, None),
        ("split.tensors.count", 30, GGUFValueType.INT32, None),
    ]
    model = load(write_gguf(tmp_path / "m.gguf", spec))  # not named as gguf-split names shards: read alone
    assert (
        model.properties["split"]
        == "shard 1 of 3: this file holds 1 of the model's 30 tensors; the other shards are separate files"
    )
    model = load(write_gguf(tmp_path / "m-00001-of-00003.gguf", spec))  # named as a shard: the others are looked for
    assert model.properties["split"] == "3 shards (m-00001-of-00003.gguf ... m-00003-of-00003.gguf): 1 read, holding 1 tensor"
    assert model.properties["shard problems"] == ["m-00002-of-00003.gguf: missing", "m-00003-of-00003.gguf: missing"]
    assert model.properties["split tensors"] == "the split states 30 tensors; the shards read hold 1"


# -- inferred graphs --------------------------------------------------------------------------
def by_name(model: Model) -> dict[str, object]:
    return {n.name: n for n in model.main.nodes}


def test_llama_graph_with_gqa_and_quantized_weights(tmp_path: Path, manager: PluginManager) -> None:
    path = write_gguf(tmp_path / "llama.gguf", llama_spec(blocks=3, qtype=Q.Q4_0))
    [model] = netray.testing.check_plugin(gguf_plugin, [path], tmp_path / "check")
    g = model.main
    blocks = sorted({n.scope[0] for n in g.nodes if n.scope})
    assert blocks == ["blk.0", "blk.1", "blk.2"]
    for b in blocks:
        ops = [n.op for n in g.nodes if n.scope[:1] == (b,)]
        assert len(ops) == 14 and ops.count("Linear") == 7 and ops.count("Add") == 2
    nodes = {n.name: n for n in g.nodes}
    q, k = nodes["blk.1.attn_q"], nodes["blk.1.attn_k"]
    assert q.outputs[0].values[0].type.shape == ("seq", 4, 16)
    assert k.outputs[0].values[0].type.shape == ("seq", 2, 16)  # 2 key/value heads (GQA)
    weight = q.weights()[0].initializer
    assert weight is model.tensors["blk.1.attn_q.weight"]
    assert weight is not None and weight.quantization is not None and weight.quantization.scheme == "q4_0"
    assert nodes["blk.1.attn"].attribute("attention.head_count_kv").value == 2
    assert nodes["blk.1.attn"].attribute("rope.freq_base").value == 10000.0
    assert nodes["blk.1.attn_norm"].op == "RMSNorm"
    assert nodes["blk.1.attn_norm"].attribute("epsilon").value == pytest.approx(1e-5)
    assert nodes["output"].weights()[0].name == "output.weight"
    assert g.outputs[0].name == "logits" and g.outputs[0].type.shape == ("seq", 96)
    assert model.properties["structure"] == "3 blocks drawn as the layout llama.cpp builds for llama"
    # Residual stream: each block's attention Add reads the previous block's output.
    assert nodes["blk.1.attn_residual"].inputs[0].values[0] is nodes["blk.0.ffn_residual"].outputs[0].values[0]


def test_tied_embeddings_head(tmp_path: Path) -> None:
    model = load(write_gguf(tmp_path / "tied.gguf", llama_spec(blocks=2, tied=True, qtype=Q.F16)))
    head = model.main.nodes[-1]
    assert head.op == "Linear" and head.name == "output"
    assert head.attribute("tied_embeddings").value is True
    embd = model.main.nodes[0]
    assert head.weights()[0] is embd.weights()[0]  # one value, two readers
    assert model.main.outputs[0].type.shape == ("seq", 96)


def test_moe_blocks(tmp_path: Path) -> None:
    embd, ff, experts = 32, 48, 4
    tensors = [TensorSpec("token_embd.weight", rand((50, embd)))]
    for stem, shape in (
        ("attn_norm", (embd,)),
        ("attn_q", (embd, embd)),
        ("attn_k", (embd, embd)),
        ("attn_v", (embd, embd)),
        ("attn_output", (embd, embd)),
        ("ffn_norm", (embd,)),
        ("ffn_gate_inp", (experts, embd)),
        ("ffn_gate_exps", (experts, ff, embd)),
        ("ffn_up_exps", (experts, ff, embd)),
        ("ffn_down_exps", (experts, embd, ff)),
        ("ffn_gate_shexp", (ff, embd)),
        ("ffn_up_shexp", (ff, embd)),
        ("ffn_down_shexp", (embd, ff)),
    ):
        tensors.append(TensorSpec(f"blk.0.{stem}.weight", rand(shape)))
    tensors += [TensorSpec("output_norm.weight", rand((embd,))), TensorSpec("output.weight", rand((50, embd)))]
    kv = {"qwen2moe.expert_count": experts, "qwen2moe.expert_used_count": 2, "qwen2moe.attention.head_count": 4}
    model = load(write_gguf(tmp_path / "moe.gguf", GgufSpec("qwen2moe", kv, tensors=tensors)))
    nodes = {n.name: n for n in model.main.nodes}
    moe = nodes["blk.0.ffn_moe"]
    assert moe.op == "MoE" and moe.scope == ("blk.0", "ffn")
    assert {v.name for v in moe.weights()} == {
        f"blk.0.{s}.weight" for s in ("ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")
    }
    assert moe.attribute("expert_count").value == 4 and moe.attribute("expert_used_count").value == 2
    assert [p.name for p in moe.inputs] == ["x", "router", "gate", "up", "down"]
    assert model.tensors["blk.0.ffn_up_exps.weight"].shape == (experts, ff, embd)
    assert nodes["blk.0.ffn_shared_add"].op == "Add"
    assert nodes["blk.0.ffn_down_shexp"].op == "Linear"
    assert not model.properties["structure"].__contains__("Block")  # type: ignore[union-attr]


def test_unknown_architecture_gets_generic_blocks(tmp_path: Path) -> None:
    """A state-space block (Mamba's tensor names) fits no layout: one Block box holding its tensors."""
    tensors = [TensorSpec("token_embd.weight", rand((40, 16)))]
    for b in range(2):
        for stem, shape in (("attn_norm", (16,)), ("ssm_in", (64, 16)), ("ssm_conv1d", (32, 4)), ("ssm_out", (16, 32))):
            tensors.append(TensorSpec(f"blk.{b}.{stem}.weight", rand(shape)))
    tensors += [TensorSpec("output_norm.weight", rand((16,))), TensorSpec("mystery.weight", rand((3,)))]
    model = load(
        write_gguf(tmp_path / "mamba.gguf", GgufSpec("mamba", {"mamba.embedding_length": 16}, tensors=tensors))
    )
    g = model.main
    assert [n.op for n in g.nodes] == ["Embedding", "Block", "Block", "RMSNorm", "Linear"]  # head tied to the embedding
    block = g.nodes[1]
    assert block.name == "blk.0" and block.scope == ("blk.0",) and block.category is Category.CUSTOM
    assert {v.name for v in block.weights()} == {
        f"blk.0.{s}.weight" for s in ("attn_norm", "ssm_in", "ssm_conv1d", "ssm_out")
    }
    assert g.metadata["generic blocks"] == 2
    note = str(model.properties["structure"])
    assert "blocks 0, 1 fit no known layout" in note and "1 tensors are not drawn" in note
    assert "mystery.weight" in model.tensors


def test_fused_qkv_fused_gate_up_phi3(tmp_path: Path) -> None:
    embd, ff = 32, 64
    tensors = [TensorSpec("token_embd.weight", rand((50, embd)))]
    for stem, shape in (
        ("attn_norm", (embd,)),
        ("attn_qkv", (3 * embd, embd)),
        ("attn_output", (embd, embd)),
        ("ffn_norm", (embd,)),
        ("ffn_up", (2 * ff, embd)),
        ("ffn_down", (embd, ff)),
    ):
        tensors.append(TensorSpec(f"blk.0.{stem}.weight", rand(shape)))
    tensors += [TensorSpec("output_norm.weight", rand((embd,))), TensorSpec("output.weight", rand((50, embd)))]
    kv = {"phi3.attention.layer_norm_rms_epsilon": 1e-5, "phi3.attention.head_count": 4}
    model = load(write_gguf(tmp_path / "phi3.gguf", GgufSpec("phi3", kv, tensors=tensors)))
    ops = [n.op for n in model.main.nodes if n.scope[:1] == ("blk.0",)]
    assert ops == ["RMSNorm", "Linear", "Attention", "Linear", "Add", "RMSNorm", "Linear", "SwiGLU", "Linear", "Add"]
    swiglu = next(n for n in model.main.nodes if n.op == "SwiGLU")
    assert swiglu.outputs[0].values[0].type.shape == ("seq", ff)


def test_parallel_residual_falcon_and_bert_encoder(tmp_path: Path) -> None:
    embd = 16
    falcon = [TensorSpec("token_embd.weight", rand((30, embd)))]
    for stem, shape in (
        ("attn_norm", (embd,)),
        ("attn_qkv", (3 * embd, embd)),
        ("attn_output", (embd, embd)),
        ("ffn_up", (64, embd)),
        ("ffn_down", (embd, 64)),
    ):
        falcon.append(TensorSpec(f"blk.0.{stem}.weight", rand(shape)))
    falcon.append(TensorSpec("blk.0.attn_norm.bias", rand((embd,))))
    model = load(
        write_gguf(
            tmp_path / "falcon.gguf", GgufSpec("falcon", {"falcon.attention.layer_norm_epsilon": 1e-5}, tensors=falcon)
        )
    )
    nodes = {n.name: n for n in model.main.nodes}
    norm_out = nodes["blk.0.attn_norm"].outputs[0].values[0]
    assert nodes["blk.0.attn_norm"].op == "LayerNorm"
    assert nodes["blk.0.ffn_up"].inputs[0].values[0] is norm_out  # MLP reads the attention's input
    assert nodes["blk.0.ffn_act"].op == "GELU"
    assert model.main.nodes[-1].name == "output"  # tied head of a decoder
    bert = [
        TensorSpec("token_embd.weight", rand((30, embd))),
        TensorSpec("position_embd.weight", rand((64, embd))),
        TensorSpec("token_embd_norm.weight", rand((embd,))),
        TensorSpec("token_embd_norm.bias", rand((embd,))),
    ]
    for stem, shape in (
        ("attn_q", (embd, embd)),
        ("attn_k", (embd, embd)),
        ("attn_v", (embd, embd)),
        ("attn_output", (embd, embd)),
        ("attn_output_norm", (embd,)),
        ("ffn_up", (64, embd)),
        ("ffn_down", (embd, 64)),
        ("layer_output_norm", (embd,)),
    ):
        bert.append(TensorSpec(f"blk.0.{stem}.weight", rand(shape)))
    model = load(
        write_gguf(tmp_path / "bert.gguf", GgufSpec("bert", {"bert.attention.layer_norm_epsilon": 1e-12}, tensors=bert))
    )
    ops = [n.op for n in model.main.nodes]
    assert ops[:3] == ["Embedding", "Add", "LayerNorm"]
    assert ops[-1] == "LayerNorm"  # an encoder: hidden states out, no head
    assert model.main.outputs[0].type.shape == ("seq", embd)


def test_weights_only_and_adapter_files(tmp_path: Path) -> None:
    clip = GgufSpec(
        "clip", tensors=[TensorSpec("v.blk.0.attn_q.weight", rand((8, 8))), TensorSpec("mm.0.weight", rand((8, 8)))]
    )
    model = load(write_gguf(tmp_path / "mmproj.gguf", clip))
    assert model.graphs == [] and set(model.tensors) == {"v.blk.0.attn_q.weight", "mm.0.weight"}
    assert "weights only" in str(model.properties["structure"])
    lora = GgufSpec(
        "llama", {"general.type": "adapter"}, tensors=[TensorSpec("blk.0.attn_q.weight.lora_a", rand((4, 8)))]
    )
    model = load(write_gguf(tmp_path / "lora.gguf", lora))
    assert model.graphs == [] and "adapter" in str(model.properties["structure"])


def test_operator_info_for_every_drawn_op(tmp_path: Path) -> None:
    model = load(write_gguf(tmp_path / "m.gguf", llama_spec(blocks=1)))
    for op in {n.op for n in model.main.nodes} | {"MoE", "Block", "GELU", "SwiGLU", "LayerNorm"}:
        info = gguf_plugin.netray_operator_info(format="GGUF", domain="", op=op)
        assert info is not None and info.summary, op
    assert gguf_plugin.netray_operator_info(format="GGUF", domain="", op="Nope") is None
    assert gguf_plugin.netray_operator_info(format="ONNX", domain="", op="Linear") is None


def test_activation_names_never_take_a_tensor_name(tmp_path: Path) -> None:
    """Odd tensor names that equal the names of drawn values stay weights; the values are renamed."""
    spec = llama_spec(blocks=1)
    spec.tensors += [
        TensorSpec("tokens", rand((3,))),
        TensorSpec("logits", rand((3,))),
        TensorSpec("blk.0.attn_residual", rand((3,))),
    ]
    model = load(write_gguf(tmp_path / "odd.gguf", spec))
    g = model.main
    assert g.inputs[0].name == "tokens:out" and g.inputs[0].initializer is None
    assert g.outputs[0].name == "logits:out" and g.outputs[0].initializer is None
    assert "tokens" in model.tensors and "logits" in model.tensors
    # blk.0 now holds a tensor no layout knows: the block is drawn as one Block box holding it.
    assert [n.op for n in g.nodes if n.scope[:1] == ("blk.0",)] == ["Block"]
