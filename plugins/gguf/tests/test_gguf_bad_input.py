"""Truncated, corrupt and hostile GGUF files: each is one FormatError line naming the file (or,
where only tensor data is missing, a model that opens and says so), and none hangs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from gguf_test_files import (
    GgufSpec,
    Q,
    TensorSpec,
    gguf_string,
    kv_bytes,
    llama_spec,
    rand,
    raw_gguf,
    tensor_info_bytes,
    write_gguf,
)

import netray
from netray import FormatError, Model
from netray.plugins import PluginManager, read_head
from netray_gguf import header as header_module
from netray_gguf import plugin as gguf_plugin

UINT8, UINT32, STRING, ARRAY = 0, 4, 8, 9


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(gguf_plugin, "gguf")
    return pm


def fails(manager: PluginManager, path: Path, match: str) -> FormatError:
    with pytest.raises(FormatError, match=match) as info:
        manager.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "GGUF" in message, message
    return info.value


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def llama_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = llama_spec(blocks=2, qtype=Q.Q8_0)
    spec.kv["tokenizer.ggml.tokens"] = [f"tok{i}" for i in range(96)]
    return write_gguf(tmp_path_factory.mktemp("gguf") / "llama.gguf", spec)


def test_header_cut_anywhere_is_a_format_error(manager: PluginManager, llama_file: Path, tmp_path: Path) -> None:
    data = llama_file.read_bytes()
    model = manager.load(llama_file)
    data_offset = model.properties["tensor data offset"]
    assert isinstance(data_offset, int)
    header_end = data_offset - 32  # the last tensor info ends within the padding before the data
    cuts = sorted({1, 3, 4, 7, 8, 16, 23, 24, 25, 40, 100, 333, 1000, header_end // 2, header_end - 9, header_end - 1})
    for cut in cuts:
        path = write(tmp_path, f"cut{cut}.gguf", data[:cut])
        with pytest.raises(FormatError) as info:
            manager.load(path)
        message = str(info.value)
        assert "\n" not in message and str(path) in message, message
        assert "GGUF: " in message and "truncated" in message, message


def test_data_cut_opens_and_says_so(manager: PluginManager, llama_file: Path, tmp_path: Path) -> None:
    data = llama_file.read_bytes()
    full = manager.load(llama_file)
    last = full.tensors["output.weight"]
    offset = last.metadata["offset"]
    assert isinstance(offset, int)
    path = write(tmp_path, "partial.gguf", data[: offset + 10])
    model = manager.load(path)  # structure only: opens
    assert len(model.main.nodes) == len(full.main.nodes)
    note = str(model.properties["truncated"])
    assert note.startswith("the data of 1 of 21 tensors lies past the end of the file")
    assert np.array_equal(model.tensors["token_embd.weight"].numpy(), full.tensors["token_embd.weight"].numpy())
    with pytest.raises(FormatError, match="past the end of the file") as info:
        model.tensors["output.weight"].numpy()
    assert "\n" not in str(info.value) and "output.weight" in str(info.value)
    assert "truncated" not in full.properties


def test_not_gguf_and_unsupported_versions(manager: PluginManager, tmp_path: Path) -> None:
    bad_magic = write(tmp_path, "bad_magic.gguf", b"GGUX" + bytes(60))
    claim = gguf_plugin.netray_sniff(path=bad_magic, head=read_head(bad_magic))
    assert claim is not None and claim.confidence == 0.1  # the name only
    fails(manager, bad_magic, "not a GGUF file")
    for version in (1, 99):
        path = write(tmp_path, f"v{version}.gguf", raw_gguf(version=version))
        claim = gguf_plugin.netray_sniff(path=path, head=read_head(path))
        assert claim is not None and claim.confidence == 0.5
        fails(manager, path, f"GGUF version {version} is not supported")
    ok = write(tmp_path, "empty_v3.bin", raw_gguf())
    claim = gguf_plugin.netray_sniff(path=ok, head=read_head(ok))
    assert claim is not None and claim.confidence == 1.0
    assert gguf_plugin.netray_sniff(path=tmp_path / "x.bin", head=b"PK\x03\x04" + bytes(20)) is None
    short = write(tmp_path, "short.gguf", b"GGUF\x03\x00\x00\x00")
    fails(manager, short, "shorter than a GGUF header")


def test_array_length_past_the_end(manager: PluginManager, tmp_path: Path) -> None:
    """The count that makes gguf.GGUFReader loop for ever on empty views: refused before reading."""
    kv = kv_bytes("a", ARRAY, struct.pack("<IQ", UINT8, 2**62) + bytes(16))
    fails(
        manager,
        write(tmp_path, "array.gguf", raw_gguf([kv])),
        r"key 'a' \(4,611,686,018,427,387,904 items\).*truncated or corrupt",
    )
    strings = kv_bytes("s", ARRAY, struct.pack("<IQ", STRING, 10**12))
    fails(manager, write(tmp_path, "strings.gguf", raw_gguf([strings])), "needs")
    nested = kv_bytes("n", ARRAY, struct.pack("<IQ", ARRAY, 10**12))
    fails(manager, write(tmp_path, "nested.gguf", raw_gguf([nested])), "needs")


def test_string_length_past_the_end(manager: PluginManager, tmp_path: Path) -> None:
    kv = kv_bytes("name", STRING, gguf_string("abc", length=2**63))
    fails(manager, write(tmp_path, "string.gguf", raw_gguf([kv])), "key 'name'.*needs 9,223,372,036,854,775,808 bytes")
    key = gguf_string("k", length=2**40) + b"xyz"
    fails(manager, write(tmp_path, "key.gguf", raw_gguf([key])), "the name of key/value 0")
    info = gguf_string("t", length=10**9)
    fails(manager, write(tmp_path, "tname.gguf", raw_gguf(infos=[info])), "the name of tensor 0")


def test_hostile_counts(manager: PluginManager, tmp_path: Path) -> None:
    fails(
        manager,
        write(tmp_path, "kv.gguf", raw_gguf(kv_count=2**64 - 1)),
        "declares 18,446,744,073,709,551,615 key/values",
    )
    fails(manager, write(tmp_path, "tc.gguf", raw_gguf(tensor_count=10**9)), "declares 1,000,000,000 tensors")


def test_value_types_nesting_and_item_budget(
    manager: PluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fails(manager, write(tmp_path, "vt.gguf", raw_gguf([kv_bytes("x", 13, bytes(8))])), "key 'x' has value type 13")
    bad_item = kv_bytes("x", ARRAY, struct.pack("<IQ", 77, 1) + bytes(8))
    fails(manager, write(tmp_path, "it.gguf", raw_gguf([bad_item])), "array of value type 77")
    deep = struct.pack("<IQ", ARRAY, 1) * 7 + struct.pack("<IQ", UINT8, 0)
    fails(manager, write(tmp_path, "deep.gguf", raw_gguf([kv_bytes("x", ARRAY, deep)])), "nested more than 6 deep")
    monkeypatch.setattr(header_module, "MAX_ITEMS", 100)
    many = kv_bytes("x", ARRAY, struct.pack("<IQ", UINT8, 101) + bytes(101))
    fails(manager, write(tmp_path, "many.gguf", raw_gguf([many])), "more than 100 items")


def test_duplicates_dimensions_alignment(manager: PluginManager, tmp_path: Path) -> None:
    one = kv_bytes("k", UINT32, struct.pack("<I", 1))
    fails(manager, write(tmp_path, "dupkey.gguf", raw_gguf([one, one])), "key 'k' appears twice")
    t = tensor_info_bytes("w", [4], 0, 0)
    fails(
        manager, write(tmp_path, "duptensor.gguf", raw_gguf(infos=[t, t], data=bytes(64))), "tensor 'w' appears twice"
    )
    five = tensor_info_bytes("w", [1, 1, 1, 1, 1], 0, 0)
    fails(
        manager,
        write(tmp_path, "dims.gguf", raw_gguf(infos=[five], data=bytes(32))),
        "5 dimensions; ggml allows at most 4",
    )
    huge = tensor_info_bytes("w", [2**40, 2**40], 0, 0)
    fails(manager, write(tmp_path, "overflow.gguf", raw_gguf(infos=[huge])), "overflows 64 bits")
    for value in (3, 0):
        align = kv_bytes("general.alignment", UINT32, struct.pack("<I", value))
        fails(manager, write(tmp_path, f"align{value}.gguf", raw_gguf([align])), "must be a power of two")
    align = kv_bytes("general.alignment", STRING, gguf_string("32"))
    fails(manager, write(tmp_path, "alignstr.gguf", raw_gguf([align])), "must be a power of two")


def test_tensor_types_and_offsets(manager: PluginManager, tmp_path: Path) -> None:
    unknown = tensor_info_bytes("w", [8], 99, 0)
    model = manager.load(write(tmp_path, "unknown.gguf", raw_gguf(infos=[unknown], data=bytes(32))))
    t = model.tensors["w"]
    assert t.dtype == "ggml_type_99" and t.shape == (8,)
    with pytest.raises(FormatError, match="ggml type 99"):
        t.numpy()
    partial = tensor_info_bytes("w", [40, 2], Q.Q8_0, 0)  # rows of 40 are not whole blocks of 32
    fails(
        manager,
        write(tmp_path, "rows.gguf", raw_gguf(infos=[partial], data=bytes(128))),
        "not a whole number of Q8_0 blocks",
    )
    q8_1 = tensor_info_bytes("w", [32, 2], Q.Q8_1, 0)  # 36-byte blocks, as in ggml-common.h
    model = manager.load(write(tmp_path, "q8_1.gguf", raw_gguf(infos=[q8_1], data=bytes(96))))
    assert model.tensors["w"].byte_size == 72
    with pytest.raises(FormatError, match="cannot dequantize Q8_1"):
        model.tensors["w"].numpy()
    far = tensor_info_bytes("w", [8], 0, 2**63)
    model = manager.load(write(tmp_path, "far.gguf", raw_gguf(infos=[far], data=bytes(32))))
    assert "lies past the end" in str(model.properties["truncated"])
    with pytest.raises(FormatError, match="past the end of the file"):
        model.tensors["w"].numpy()


def test_invalid_utf8_is_replaced(manager: PluginManager, tmp_path: Path) -> None:
    kv = kv_bytes("k\xff".encode("latin-1").decode("latin-1"), STRING, gguf_string(b"ok \xff\xfe"))
    model = manager.load(write(tmp_path, "utf8.gguf", raw_gguf([kv])))
    assert list(model.metadata.values()) == ["ok \ufffd\ufffd"]


def test_hostile_hyperparameters_do_not_break_the_graph(tmp_path: Path, manager: PluginManager) -> None:
    spec = llama_spec(blocks=1)
    spec.kv.update(
        {
            "llama.attention.head_count": "four",
            "llama.embedding_length": 0,
            "llama.context_length": [1, 2],
            "llama.attention.head_count_kv": True,
        }
    )
    model = manager.load(write_gguf(tmp_path / "odd.gguf", spec))
    attn = next(n for n in model.main.nodes if n.op == "Attention")
    assert attn.attribute("attention.head_count") is None
    assert model.main.nodes[0].outputs[0].values[0].type.shape == ("seq", 64)  # from the embedding table instead


def test_random_corruption_never_escapes(manager: PluginManager, llama_file: Path, tmp_path: Path) -> None:
    """Bytes flipped anywhere in the header: the file loads or is one FormatError, nothing else."""
    data = llama_file.read_bytes()
    model = manager.load(llama_file)
    end = model.properties["tensor data offset"]
    assert isinstance(end, int)
    rng = np.random.default_rng(11)
    path = tmp_path / "fuzz.gguf"
    for _ in range(300):
        corrupt = bytearray(data)
        for pos in rng.integers(0, end, int(rng.integers(1, 6))):
            corrupt[pos] = int(rng.integers(0, 256))
        path.write_bytes(bytes(corrupt))
        try:
            loaded: Model = manager.load(path)
        except FormatError as exc:
            assert "\n" not in str(exc)
            continue
        for t in list(loaded.tensors.values())[:3]:
            try:
                t.numpy()
            except FormatError:
                pass


def test_load_model_through_the_entry_point(tmp_path: Path) -> None:
    """The installed plugin, as the CLI and viewer reach it."""
    path = write_gguf(tmp_path / "m.gguf", GgufSpec("custom", tensors=[TensorSpec("x", rand((4, 32)), Q.Q8_0)]))
    model = netray.load_model(path)
    assert model.format == "GGUF" and model.tensors["x"].dtype == "q8_0"
    truncated = write(tmp_path, "t.gguf", path.read_bytes()[:50])
    with pytest.raises(FormatError, match="truncated"):
        netray.load_model(truncated)
