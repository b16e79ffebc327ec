"""TensorFlow checkpoints (TensorBundle .index + .data shards) and SavedModel fingerprints.

TensorFlow itself is too heavy to install for tests. Checkpoints are written here the
way TensorFlow's tensor_bundle.cc and LevelDB's table builder write them: BundleHeaderProto
and BundleEntryProto encoded by the protobuf library from TensorFlow's tensor_bundle.proto
(declared below against tensorboard's copies of types/tensor_shape/versions.proto),
prefix-compressed blocks with restart points, masked CRC32C trailers, an index block of
shortened separator keys, an empty metaindex and the 48-byte footer. The writer is checked
against the real shared index: its data block decodes to exactly the bytes TensorFlow wrote.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from tensorboard.compat.proto import tensor_shape_pb2, trackable_object_graph_pb2, types_pb2, versions_pb2

import netray
import netray.testing
from netray import FormatError
from netray.plugins import PluginManager

netray_tensorflow = pytest.importorskip("netray_tensorflow")
from netray_tensorflow import plugin  # noqa: E402
from netray_tensorflow.checkpoint import _block, _entries, snappy_decompress  # noqa: E402
from netray_tensorflow.protos import FingerprintDef  # noqa: E402

CHECKPOINT = "TensorFlow checkpoint"
SERVING = "tensorflow/savedmodel/tf_serving"

# -- CRC32C (Castagnoli), masked as LevelDB and TensorBundle store it -------------------------

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _CRC_TABLE.append(_c)


def crc32c(data: bytes, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# -- tensor_bundle.proto, encoded by the protobuf library ---------------------------------------

TENSOR_BUNDLE_PROTO = """
name: "tensor_bundle_for_tests.proto"
package: "tensorboard"
syntax: "proto3"
dependency: ["tensorboard/compat/proto/types.proto", "tensorboard/compat/proto/tensor_shape.proto",
             "tensorboard/compat/proto/versions.proto"]
message_type {
  name: "BundleHeaderProto"
  field { name: "num_shards" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "endianness" number: 2 label: LABEL_OPTIONAL type: TYPE_ENUM
          type_name: ".tensorboard.BundleHeaderProto.Endianness" }
  field { name: "version" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".tensorboard.VersionDef" }
  enum_type { name: "Endianness" value { name: "LITTLE" number: 0 } value { name: "BIG" number: 1 } }
}
message_type {
  name: "TensorSliceProto"
  field { name: "extent" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".tensorboard.TensorSliceProto.Extent" }
  nested_type {
    name: "Extent"
    field { name: "start" number: 1 label: LABEL_OPTIONAL type: TYPE_INT64 }
    field { name: "length" number: 2 label: LABEL_OPTIONAL type: TYPE_INT64 oneof_index: 0 }
    oneof_decl { name: "has_length" }
  }
}
message_type {
  name: "BundleEntryProto"
  field { name: "dtype" number: 1 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".tensorboard.DataType" }
  field { name: "shape" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".tensorboard.TensorShapeProto" }
  field { name: "shard_id" number: 3 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "offset" number: 4 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "size" number: 5 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "crc32c" number: 6 label: LABEL_OPTIONAL type: TYPE_FIXED32 }
  field { name: "slices" number: 7 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".tensorboard.TensorSliceProto" }
}
"""


def _bundle_classes() -> tuple[type, type]:
    pool = descriptor_pool.DescriptorPool()
    for module in (types_pb2, tensor_shape_pb2, versions_pb2):
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb))
    pool.Add(text_format.Parse(TENSOR_BUNDLE_PROTO, descriptor_pb2.FileDescriptorProto()))
    header = message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorboard.BundleHeaderProto"))
    entry = message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorboard.BundleEntryProto"))
    return header, entry


BundleHeaderProto, BundleEntryProto = _bundle_classes()

DT = {
    "float32": types_pb2.DT_FLOAT,
    "float64": types_pb2.DT_DOUBLE,
    "int32": types_pb2.DT_INT32,
    "int64": types_pb2.DT_INT64,
    "uint8": types_pb2.DT_UINT8,
    "int8": types_pb2.DT_INT8,
    "int16": types_pb2.DT_INT16,
    "uint16": types_pb2.DT_UINT16,
    "bool": types_pb2.DT_BOOL,
    "float16": types_pb2.DT_HALF,
    "bfloat16": types_pb2.DT_BFLOAT16,
    "complex64": types_pb2.DT_COMPLEX64,
    "object": types_pb2.DT_STRING,
}

# -- a LevelDB table, as TensorFlow's table builder writes it -----------------------------------


def snappy_literals(data: bytes) -> bytes:
    """Valid Snappy of literals only (a compressor may always choose them)."""
    out = bytearray(varint(len(data)))
    for start in range(0, len(data), 60):
        chunk = data[start : start + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


class BlockBuilder:
    def __init__(self, restart_interval: int) -> None:
        self.interval = restart_interval
        self.buffer = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last = b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.interval:
            while shared < min(len(key), len(self.last)) and key[shared] == self.last[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buffer))
            self.counter = 0
        self.buffer += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        self.last = key
        self.counter += 1

    def finish(self) -> bytes:
        return (
            bytes(self.buffer)
            + b"".join(struct.pack("<I", r) for r in self.restarts)
            + struct.pack("<I", len(self.restarts))
        )


def shortest_separator(start: bytes, limit: bytes) -> bytes:
    n = 0
    while n < min(len(start), len(limit)) and start[n] == limit[n]:
        n += 1
    if n < min(len(start), len(limit)) and start[n] < 0xFF and start[n] + 1 < limit[n]:
        return start[:n] + bytes([start[n] + 1])
    return start


def short_successor(key: bytes) -> bytes:
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes([b + 1])
    return key


def write_table(entries: list[tuple[bytes, bytes]], block_size: int = 4096, compress: bool = False) -> bytes:
    out = bytearray()
    index = BlockBuilder(1)
    block = BlockBuilder(16)
    pending: tuple[int, int] | None = None

    def write_block(contents: bytes, allow_compression: bool) -> tuple[int, int]:
        kind = 0
        if allow_compression and compress:
            contents, kind = snappy_literals(contents), 1
        handle = (len(out), len(contents))
        out.extend(contents + bytes([kind]) + struct.pack("<I", masked(crc32c(contents + bytes([kind])))))
        return handle

    last = b""
    for key, value in entries:
        if pending is not None:
            index.add(shortest_separator(last, key), varint(pending[0]) + varint(pending[1]))
            pending = None
        block.add(key, value)
        last = key
        if len(block.finish()) >= block_size:
            pending = write_block(block.finish(), True)
            block = BlockBuilder(16)
    if block.buffer:
        pending = write_block(block.finish(), True)
    if pending is not None:
        index.add(short_successor(last), varint(pending[0]) + varint(pending[1]))
    meta = write_block(BlockBuilder(16).finish(), False)
    index_handle = write_block(index.finish(), False)
    footer = varint(meta[0]) + varint(meta[1]) + varint(index_handle[0]) + varint(index_handle[1])
    out += footer.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(out)


# -- a TensorBundle checkpoint --------------------------------------------------------------------


def tensor_bytes(array: np.ndarray) -> bytes:
    if array.dtype != object:
        return array.tobytes()
    strings = [s if isinstance(s, bytes) else str(s).encode() for s in array.ravel()]
    crc = 0
    lengths = b""
    for s in strings:
        lengths += varint(len(s))
        crc = crc32c(struct.pack("<Q", len(s)), crc)  # the checksum covers the lengths as uint64s
    return lengths + struct.pack("<I", masked(crc)) + b"".join(strings)


def write_checkpoint(
    folder: Path,
    tensors: dict[str, np.ndarray],
    prefix: str = "model.ckpt",
    shards: int = 1,
    compress: bool = False,
    block_size: int = 4096,
) -> Path:
    """``prefix.index`` and ``prefix.data-0000k-of-0000n`` as TensorFlow's BundleWriter writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    data = [bytearray() for _ in range(shards)]
    entries = []
    for k, key in enumerate(sorted(tensors)):
        array = tensors[key]
        shard = k % shards
        raw = tensor_bytes(array)
        entry = BundleEntryProto(dtype=DT[array.dtype.name], shard_id=shard, offset=len(data[shard]), size=len(raw))
        entry.shape.SetInParent()
        for d in array.shape:
            entry.shape.dim.add(size=d)
        entry.crc32c = masked(crc32c(raw))
        data[shard] += raw
        entries.append((key.encode(), entry.SerializeToString()))
    header = BundleHeaderProto(num_shards=shards, version={"producer": 1})
    index = folder / f"{prefix}.index"
    index.write_bytes(write_table([(b"", header.SerializeToString()), *entries], block_size, compress))
    for shard, blob in enumerate(data):
        (folder / f"{prefix}.data-{shard:05d}-of-{shards:05d}").write_bytes(bytes(blob))
    return index


def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "tensorflow")
    return pm


def real_variables(shared_models: Path) -> list[Path]:
    return sorted((shared_models / "tensorflow" / "savedmodel").glob("*/*/variables/variables.*"))


# -- the writer against TensorFlow's own bytes ---------------------------------------------------------


def test_the_test_writer_reproduces_tensorflows_own_index_block(shared_models: Path) -> None:
    """half_plus_two (TF 1.14): the real index's data block, decompressed, equals what the writer builds."""
    index = shared_models / SERVING / "saved_model_half_plus_two_cpu" / "variables" / "variables.index"
    real = index.read_bytes()
    data = (index.parent / "variables.data-00000-of-00001").read_bytes()
    values = np.frombuffer(data, dtype="<f4")
    tensors = {name: np.array(v, np.float32) for name, v in zip(["a", "a2", "b", "c", "c2"], values, strict=True)}
    table = write_table_for(tensors)
    real_block = _first_data_block(real, index)
    assert _first_data_block(table, index) == real_block
    assert real[-8:] == table[-8:]  # the same footer magic


def write_table_for(tensors: dict[str, np.ndarray]) -> bytes:
    entries = []
    offset = 0
    for key in sorted(tensors):
        raw = tensor_bytes(tensors[key])
        entry = BundleEntryProto(
            dtype=DT[tensors[key].dtype.name], offset=offset, size=len(raw), crc32c=masked(crc32c(raw))
        )
        entry.shape.SetInParent()
        entries.append((key.encode(), entry.SerializeToString()))
        offset += len(raw)
    header = BundleHeaderProto(num_shards=1, version={"producer": 1})
    return write_table([(b"", header.SerializeToString()), *entries])


def _first_data_block(table: bytes, path: Path) -> bytes:
    footer = table[-48:]
    pos = 0
    handles = []
    for _ in range(4):
        value = shift = 0
        while True:
            b = footer[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        handles.append(value)
    index_block = _block(table, handles[2], handles[3], path)
    _, handle = _entries(index_block, path)[0]
    offset, size = handle[0], handle[1]  # both below 128 in these small tables
    return _block(table, offset, size, path)


# -- real files -------------------------------------------------------------------------------------


def test_every_real_checkpoint_file_opens_as_a_checkpoint(shared_models: Path, tmp_path: Path) -> None:
    """The variables of the real SavedModels, copied out of them: checkpoints of their own."""
    files = []
    for original in real_variables(shared_models):
        copy = tmp_path / "alone" / original.parent.parent.name / original.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, copy)
        files.append(copy)
    assert len(files) == 10  # five SavedModels: an index and a data shard each
    models = netray.testing.check_plugin(plugin, files, tmp_path / "check")
    for path, model in zip(files, models, strict=True):
        assert model.format == CHECKPOINT and not model.graphs and model.tensors, path
        assert model.source == path.with_name("variables.index")
        assert model.properties["data shards"] == 1 and model.properties["byte order"] == "little"
        assert model.properties["bundle version"] == "producer 1, min consumer 0"
        if ".data-" in path.name:
            assert model.properties["opened from"].startswith("variables.data-00000-of-00001")


def test_the_variables_of_a_real_saved_model_open_the_saved_model(shared_models: Path) -> None:
    """variables/variables.index or its data shard, opened: the SavedModel they belong to, with its graph."""
    for path in real_variables(shared_models):
        root = path.parent.parent
        found = manager().detect(path)
        assert found is not None and found[1] == netray.Claim("TensorFlow SavedModel", 1.0), path
        model = manager().load(path)
        whole = manager().load(root)
        assert model.format == whole.format == "TensorFlow SavedModel"
        assert [len(g.nodes) for g in model.graphs] == [len(g.nodes) for g in whole.graphs]
        assert sorted(model.tensors) == sorted(whole.tensors)
        assert model.properties["opened from"] == f"variables/{path.name}, a file of the SavedModel {root.name}/"
    # Read as a checkpoint on purpose, they still say where their graph is.
    index = real_variables(shared_models)[0].with_name("variables.index")
    alone = plugin.netray_load(index, CHECKPOINT)
    assert "open that folder for its graph" in alone.properties["graph"]


def test_real_checkpoint_values_are_the_known_ones(shared_models: Path) -> None:
    root = shared_models / SERVING
    expected = {
        "saved_model_half_plus_two_cpu": {"a": 0.5, "a2": 0.5, "b": 2.0, "c": 3.0, "c2": 3.0},
        "saved_model_half_plus_two_tf2_cpu": {
            f"{v}/.ATTRIBUTES/VARIABLE_VALUE": x for v, x in zip("abc", (0.5, 2.0, 3.0), strict=True)
        },
        "saved_model_counter": {"counter": 0.0},
    }
    for name, values in expected.items():
        model = plugin.netray_load(root / name / "variables" / "variables.index", CHECKPOINT)
        got = {k: float(t.numpy()) for k, t in model.tensors.items() if t.dtype == "float32"}
        assert got == values, name
    tf2 = plugin.netray_load(root / "saved_model_half_plus_two_tf2_cpu" / "variables" / "variables.data-00000-of-00001", CHECKPOINT)
    assert tf2.properties["object graph"] == "24 trackable objects, 3 variable values"
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(bytes(tf2.tensors["_CHECKPOINTABLE_OBJECT_GRAPH"].numpy().item()))
    assert [c.local_name for c in graph.nodes[0].children][:3] == ["a", "b", "c"]
    mkl = plugin.netray_load(root / "saved_model_half_plus_two_mkl" / "variables" / "variables.index", CHECKPOINT)
    kernel = mkl.tensors["conv2d_1/kernel"]
    assert kernel.shape == (1, 1, 1, 1) and kernel.byte_size == 4
    raw = (root / "saved_model_half_plus_two_mkl" / "variables" / "variables.data-00000-of-00001").read_bytes()
    assert kernel.numpy().item() == struct.unpack_from("<f", raw, 24)[0]  # the index says offset 24
    regression = plugin.netray_load(shared_models / "tensorflow/savedmodel/tf2onnx/regression/variables/variables.index", CHECKPOINT)
    w, b = np.fromfile(
        shared_models / "tensorflow/savedmodel/tf2onnx/regression/variables/variables.data-00000-of-00001", "<f4"
    )
    assert float(regression.tensors["W"].numpy()) == w and float(regression.tensors["b"].numpy()) == b


def test_real_fingerprint_opens_its_saved_model_with_the_hashes_as_metadata(
    shared_models: Path, tmp_path: Path
) -> None:
    fingerprint = shared_models / SERVING / "saved_model_half_plus_two_tf2_cpu" / "fingerprint.pb"
    pm = manager()
    found = pm.detect(fingerprint)
    assert found is not None and found[1].format == "TensorFlow SavedModel" and found[1].confidence == 1.0
    (model,) = netray.testing.check_plugin(plugin, [fingerprint], tmp_path)
    assert model.format == "TensorFlow SavedModel" and len(model.main.nodes) == 29 and len(model.functions) == 14
    proto = FingerprintDef.FromString(fingerprint.read_bytes())
    assert model.metadata == {
        "saved_model_checksum": 3202314178945370836,
        "graph_def_program_hash": proto.graph_def_program_hash,
        "signature_def_hash": proto.signature_def_hash,
        "saved_object_graph_hash": proto.saved_object_graph_hash,
        "checkpoint_hash": proto.checkpoint_hash,
        "version": 1,
    }
    # Opening the folder shows the same metadata.
    assert pm.load(fingerprint.parent).metadata == model.metadata


def test_a_fingerprint_alone_opens_as_its_hashes(shared_models: Path, tmp_path: Path) -> None:
    source = shared_models / SERVING / "saved_model_half_plus_two_tf2_cpu" / "fingerprint.pb"
    alone = tmp_path / "copied" / "fingerprint.pb"
    alone.parent.mkdir()
    alone.write_bytes(source.read_bytes())
    (model,) = netray.testing.check_plugin(plugin, [alone], tmp_path / "check")
    assert model.format == "TensorFlow SavedModel fingerprint" and not model.main.nodes
    assert model.metadata["saved_model_checksum"] == 3202314178945370836 and model.metadata["version"] == 1
    assert "not found" in model.properties["saved_model.pb"]
    written = tmp_path / "written" / "fingerprint.pb"
    written.parent.mkdir()
    # TensorFlow's C++ writer puts the fields in number order; a uuid (field 7) is newer.
    proto = FingerprintDef(saved_model_checksum=1, graph_def_program_hash=2, checkpoint_hash=5, uuid="1234-abcd")
    proto.version.producer = 2
    written.write_bytes(proto.SerializeToString())
    model = manager().load(written)
    assert model.metadata == {
        "saved_model_checksum": 1,
        "graph_def_program_hash": 2,
        "signature_def_hash": 0,
        "saved_object_graph_hash": 0,
        "checkpoint_hash": 5,
        "version": 2,
        "uuid": "1234-abcd",
    }


def test_broken_fingerprints(shared_models: Path, tmp_path: Path) -> None:
    source = shared_models / SERVING / "saved_model_half_plus_two_tf2_cpu"
    folder = tmp_path / "sm"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes((source / "saved_model.pb").read_bytes())
    real = (source / "fingerprint.pb").read_bytes()
    (folder / "fingerprint.pb").write_bytes(real[:20])  # cut inside a varint hash
    assert plugin.netray_sniff(folder / "fingerprint.pb", real[:20]) is None  # not claimed as a fingerprint
    model = manager().load(folder)
    assert model.properties["fingerprint"].startswith("fingerprint.pb not read") and not model.metadata
    lone = tmp_path / "lone" / "fingerprint.pb"
    lone.parent.mkdir()
    for bad in (real[:20], b"\x0a\xff\xff\xff\xff\x0f", b"\x00" * 2000, b""):
        lone.write_bytes(bad)
        with pytest.raises(FormatError) as caught:
            plugin.netray_load(lone, "TensorFlow SavedModel fingerprint")
        assert "\n" not in str(caught.value) and caught.value.format == "TensorFlow SavedModel fingerprint"


# -- generated checkpoints ---------------------------------------------------------------------------


def sample_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "dense/kernel": rng.standard_normal((8, 4)).astype(np.float32),
        "dense/bias": rng.standard_normal(4).astype(np.float32),
        "embedding/table": rng.standard_normal((3, 5)),  # float64
        "counts": rng.integers(-100, 100, (2, 3), dtype=np.int64),
        "step": np.array(1234, np.int32),
        "mask": rng.integers(0, 2, (5,)).astype(bool),
        "pixels": rng.integers(0, 255, (2, 2, 3), dtype=np.uint8),
        "half": rng.standard_normal((3,)).astype(np.float16),
        "brain": rng.standard_normal((2, 3)).astype(ml_dtypes.bfloat16),
        "waves": (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64),
        "vocab": np.array([b"hello", b"", "wörld".encode(), b"x" * 300], dtype=object),
        "empty": np.zeros((0, 7), np.float32),
    }


@pytest.mark.parametrize(
    ("shards", "compress", "block_size"),
    [(1, False, 4096), (3, True, 64)],
    ids=["one shard", "3 shards, snappy, tiny blocks"],
)
def test_generated_checkpoints_round_trip_every_dtype(
    tmp_path: Path, shards: int, compress: bool, block_size: int
) -> None:
    tensors = sample_tensors()
    index = write_checkpoint(tmp_path / "ckpt", tensors, shards=shards, compress=compress, block_size=block_size)
    files = [index, index.with_name(f"model.ckpt.data-{shards - 1:05d}-of-{shards:05d}")]
    for model in netray.testing.check_plugin(plugin, files, tmp_path / "check"):
        assert model.properties["data shards"] == shards and model.properties["entries"] == len(tensors)
        assert set(model.tensors) == set(tensors)
        for name, expected in tensors.items():
            tensor = model.tensors[name]
            assert tensor.shape == expected.shape, name
            got = tensor.numpy()
            if expected.dtype == object:
                assert tensor.dtype == "string" and got.tolist() == expected.tolist()
                continue
            assert tensor.dtype == expected.dtype.name and got.dtype == expected.dtype, name
            np.testing.assert_array_equal(got, expected)
            assert tensor.byte_size == expected.nbytes
        shard_of_step = sorted(tensors).index("step") % shards
        assert model.tensors["step"].location.startswith(f"model.ckpt.data-{shard_of_step:05d}-of-{shards:05d} @ ")


def test_a_big_index_spans_many_blocks(tmp_path: Path) -> None:
    tensors = {f"layer_{i:04d}/kernel": np.full((2,), i, np.float32) for i in range(1500)}
    index = write_checkpoint(tmp_path, tensors, compress=True, block_size=512)
    model = manager().load(index)
    assert len(model.tensors) == 1500
    np.testing.assert_array_equal(model.tensors["layer_1234/kernel"].numpy(), [1234, 1234])


def test_a_tf1_checkpoint_beside_its_meta_says_where_the_graph_is(tmp_path: Path, shared_models: Path) -> None:
    index = write_checkpoint(tmp_path, {"w": np.ones(3, np.float32)}, prefix="model.ckpt-100")
    meta = shared_models / "tensorflow" / "metagraph" / "tf2onnx" / "regression_model.meta"
    (tmp_path / "model.ckpt-100.meta").write_bytes(meta.read_bytes())
    model = manager().load(index)  # the graph's variables are W and b, not w: the checkpoint opens on its own
    assert model.properties["graph"] == "model.ckpt-100.meta beside it gives none of these variables to its graph"
    assert plugin.netray_load(index, CHECKPOINT).properties["graph"] == "model.ckpt-100.meta beside it gives none of these variables to its graph"


def test_big_endian_checkpoints_read_as_native_values(tmp_path: Path) -> None:
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    folder = tmp_path / "be"
    folder.mkdir()
    raw = values.astype(">f4").tobytes()
    entry = BundleEntryProto(dtype=types_pb2.DT_FLOAT, size=len(raw), crc32c=masked(crc32c(raw)))
    entry.shape.dim.add(size=2)
    entry.shape.dim.add(size=3)
    header = BundleHeaderProto(num_shards=1, endianness=1, version={"producer": 1})
    (folder / "x.index").write_bytes(
        write_table([(b"", header.SerializeToString()), (b"v", entry.SerializeToString())])
    )
    (folder / "x.data-00000-of-00001").write_bytes(raw)
    model = manager().load(folder / "x.index")
    assert model.properties["byte order"] == "big"
    got = model.tensors["v"].numpy()
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


# -- missing companions and hostile input ---------------------------------------------------------------


def expect_error(path: Path, match: str) -> FormatError:
    with pytest.raises(FormatError, match=match) as caught:
        plugin.netray_load(path, CHECKPOINT)
    assert "\n" not in str(caught.value) and caught.value.format == CHECKPOINT
    return caught.value


def test_a_missing_index_or_shard_is_said_in_one_line(tmp_path: Path) -> None:
    index = write_checkpoint(tmp_path / "a", sample_tensors(), shards=2)
    shard = index.with_name("model.ckpt.data-00001-of-00002")
    index.unlink()
    assert plugin.netray_sniff(shard, b"") == netray_tensorflow.plugin.Claim(CHECKPOINT, 0.5)
    error = expect_error(shard, "model.ckpt.index is not beside it")
    assert error.path == str(shard)
    index = write_checkpoint(tmp_path / "b", sample_tensors(), shards=2)
    index.with_name("model.ckpt.data-00001-of-00002").unlink()
    model = manager().load(index)
    assert model.properties["missing shards"].startswith("model.ckpt.data-00001-of-00002 not found")
    on_missing = [t for t in model.tensors.values() if "00001-of" in t.location]
    assert on_missing and all(not t.has_data for t in on_missing)
    assert all(t.has_data for t in model.tensors.values() if "00000-of" in t.location)
    with pytest.raises(FormatError, match="not stored"):
        on_missing[0].numpy()


def test_truncated_and_corrupted_indexes_fail_in_one_line(tmp_path: Path) -> None:
    index = write_checkpoint(tmp_path, sample_tensors(), compress=True, block_size=128)
    good = index.read_bytes()
    for cut in (0, 10, len(good) // 2, len(good) - 49, len(good) - 1):
        index.write_bytes(good[:cut])
        expect_error(index, ".")
    rng = np.random.default_rng(3)
    for trial in range(40):  # random bytes flipped before the footer: never a traceback, never a hang
        damaged = bytearray(good)
        for position in rng.integers(0, len(good) - 48, 4):
            damaged[position] ^= int(rng.integers(1, 256))
        index.write_bytes(bytes(damaged))
        try:
            model = plugin.netray_load(index, CHECKPOINT)
        except FormatError as exc:
            assert "\n" not in str(exc), trial
            continue
        for tensor in model.tensors.values():
            try:
                tensor.numpy()
            except FormatError:
                pass


def hostile_index(folder: Path, entry: object, num_shards: int = 1, data: bytes = b"\x00" * 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    header = BundleHeaderProto(num_shards=num_shards, version={"producer": 1})
    index = folder / "h.index"
    index.write_bytes(write_table([(b"", header.SerializeToString()), (b"t", entry.SerializeToString())]))
    (folder / f"h.data-00000-of-{num_shards:05d}").write_bytes(data)
    return index


def test_hostile_entries_fail_when_read_not_when_opened(tmp_path: Path) -> None:
    cases = {
        "past the end": (BundleEntryProto(dtype=types_pb2.DT_FLOAT, offset=8, size=16), (4,), "past the end"),
        "negative offset": (BundleEntryProto(dtype=types_pb2.DT_FLOAT, offset=-8, size=4), (), "past the end"),
        "huge shape": (BundleEntryProto(dtype=types_pb2.DT_FLOAT, size=16), (1 << 40, 1 << 40), "needs"),
        "other shard": (BundleEntryProto(dtype=types_pb2.DT_FLOAT, shard_id=7, size=4), (), "shard 7"),
        "lying strings": (BundleEntryProto(dtype=types_pb2.DT_STRING, size=8), (1 << 30,), "strings"),
    }
    for name, (entry, shape, match) in cases.items():
        entry.shape.SetInParent()
        for d in shape:
            entry.shape.dim.add(size=d)
        model = manager().load(hostile_index(tmp_path / name.replace(" ", "_"), entry))
        with pytest.raises(FormatError, match=match):
            model.tensors["t"].numpy()


def test_hostile_headers_and_tables(tmp_path: Path) -> None:
    entry = BundleEntryProto(dtype=types_pb2.DT_FLOAT, size=4)
    entry.shape.SetInParent()
    hostile_index(tmp_path / "shards", entry, num_shards=-3)
    expect_error(tmp_path / "shards" / "h.index", "claims -3 data shards")
    no_header = tmp_path / "no_header.index"
    no_header.write_bytes(write_table([(b"t", entry.SerializeToString())]))
    expect_error(no_header, "no bundle header")
    # An index block whose two entries name the same data block: refused, not decoded twice (or forever).
    data = BlockBuilder(16)
    data.add(b"", BundleHeaderProto(num_shards=1).SerializeToString())
    contents = data.finish()
    out = contents + b"\x00" + struct.pack("<I", masked(crc32c(contents + b"\x00")))
    handle = varint(0) + varint(len(contents))
    index = BlockBuilder(1)
    index.add(b"a", handle)
    index.add(b"b", handle)
    blocks = [BlockBuilder(16).finish(), index.finish()]
    handles = []
    for block in blocks:
        handles.append((len(out), len(block)))
        out += block + b"\x00" + struct.pack("<I", masked(crc32c(block + b"\x00")))
    footer = b"".join(varint(n) for h in handles for n in h).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    twice_path = tmp_path / "twice.index"
    twice_path.write_bytes(out + footer)
    expect_error(twice_path, "name the block")
    leveldb = tmp_path / "000005.ldb"  # LevelDB's own tables share the footer: not claimed without .index
    leveldb.write_bytes(write_table([(b"key", b"value")]))
    assert plugin.netray_sniff(leveldb, leveldb.read_bytes()[:4096]) is None


def test_snappy_copies_that_overlap_and_hostile_lengths(tmp_path: Path) -> None:
    # "ab" then a copy of 7 bytes from 2 back: the pattern repeats into what it writes.
    assert snappy_decompress(b"\x09\x04ab\x0d\x02", tmp_path) == b"ababababa"
    assert snappy_decompress(snappy_literals(bytes(range(200))), tmp_path) == bytes(range(200))
    with pytest.raises(FormatError, match="claims"):
        snappy_decompress(varint(1 << 40), tmp_path)
    with pytest.raises(FormatError, match="runs past"):
        snappy_decompress(b"\x02\x0cabcd", tmp_path)  # a 4-byte literal in a block of 2


def tf1_checkpoint(shared_models: Path, folder: Path) -> Path:
    """A TF1 checkpoint as tf.train.Saver leaves one: model.ckpt.meta beside model.ckpt.index and its data shard
    (tf2onnx's regression graph, whose variables W and b its SavedModel holds)."""
    folder.mkdir()
    shutil.copy(shared_models / "tensorflow/metagraph/tf2onnx/regression_model.meta", folder / "model.ckpt.meta")
    variables = shared_models / "tensorflow/savedmodel/tf2onnx/regression/variables"
    shutil.copy(variables / "variables.index", folder / "model.ckpt.index")
    shutil.copy(variables / "variables.data-00000-of-00001", folder / "model.ckpt.data-00000-of-00001")
    return folder / "model.ckpt.index"


def test_a_checkpoint_beside_its_meta_graph_opens_the_graph(shared_models: Path, tmp_path: Path) -> None:
    index = tf1_checkpoint(shared_models, tmp_path / "ckpt")
    graph = manager().load(index.with_name("model.ckpt.meta"))
    for opened in (index, index.with_name("model.ckpt.data-00000-of-00001")):
        model = manager().load(opened)
        assert model.format == "TensorFlow MetaGraph"
        assert model.properties["opened from"] == f"{opened.name}, the variables of model.ckpt.meta"
        assert model.properties["variables"] == "2 tensors in model.ckpt.index, 2 given to variable nodes"
        assert [n.op for n in model.main.nodes] == [n.op for n in graph.main.nodes]
        stored = [
            v for n in model.main.nodes for p in n.outputs for v in p.values
            if v.initializer is not None and "model.ckpt.data-00000-of-00001" in (v.initializer.location or "")
        ]
        assert len(stored) == 2 and all(v.initializer.numpy().size == 1 for v in stored)  # W and b


def test_a_checkpoint_beside_a_broken_or_foreign_meta_opens_on_its_own(shared_models: Path, tmp_path: Path) -> None:
    index = tf1_checkpoint(shared_models, tmp_path / "broken")
    index.with_name("model.ckpt.meta").write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    model = manager().load(index)
    assert model.format == CHECKPOINT and model.properties["graph"].startswith("model.ckpt.meta beside it not read (")
    foreign = tf1_checkpoint(shared_models, tmp_path / "foreign")
    shutil.copy(shared_models / "tensorflow/metagraph/tf_serving/bad_half_plus_two_export.meta", foreign.with_name("model.ckpt.meta"))
    model = manager().load(foreign)
    assert model.format == CHECKPOINT
    assert model.properties["graph"] == "model.ckpt.meta beside it gives none of these variables to its graph"
