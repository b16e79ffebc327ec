"""Contract checks a plugin author runs in their own tests.

    import netray.testing
    import netray_toyfmt.plugin as plugin

    def test_contract(tmp_path):
        netray.testing.check_plugin(plugin, [Path("tests/data/tiny.toynet")], tmp_path)

:func:`check_plugin` runs the three checks below; each can be called alone:

* :func:`check_declarations`: ``netray_formats`` declares well-formed formats, the
  plugin states its contract version, implements no hook the contract lacks.
* :func:`check_sniff`: ``netray_sniff`` never raises and never hangs on empty,
  random, directory or foreign input (zips, HDF5, JSON, protobuf, text, images),
  and only ever claims a format it declared.
* :func:`check_load`: the file is claimed by this plugin and read into a model that
  :func:`check_model` accepts: linked producers and consumers, unique node ids,
  tensors whose loaders give arrays of their declared shape, typed metadata, and a
  model that survives a ``.netray`` round trip.

Each raises AssertionError with a sentence saying what is wrong.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from netray import dtypes
from netray.errors import FormatError
from netray.hookspecs import CONTRACT_VERSION, Claim, FormatInfo
from netray.ir import Graph, Model, Quantization, Tensor
from netray.plugins import PluginManager, read_head

SNIFF_SECONDS = 2.0  # a sniff slower than this on a small file is a hang in the making
TENSORS_READ = 8  # tensors whose values check_model reads, spread over the model


def _name(plugin: object) -> str:
    return getattr(plugin, "__name__", type(plugin).__name__)


def check_declarations(plugin: object) -> list[FormatInfo]:
    """The plugin's declared formats, after checking them and its contract version."""
    stated = getattr(plugin, "NETRAY_CONTRACT", None)
    assert stated is not None, f"{_name(plugin)} does not state its contract version: add NETRAY_CONTRACT = {CONTRACT_VERSION!r}"
    assert str(stated).split(".")[0] == CONTRACT_VERSION.split(".")[0], f"{_name(plugin)} states contract {stated}; this core speaks {CONTRACT_VERSION}"
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "checked")
    record = manager.records["checked"]
    assert not record.error, f"{_name(plugin)} was refused: {record.error}"
    assert not record.problems, f"{_name(plugin)}: {'; '.join(record.problems)}"
    formats = list(record.formats)
    assert formats, f"{_name(plugin)}.netray_formats declares no format"
    names = [f.name for f in formats]
    assert len(set(names)) == len(names), f"format names declared twice: {names}"
    for f in formats:
        assert isinstance(f, FormatInfo), f"netray_formats returned {f!r}, not a FormatInfo"
        assert f.name.strip() == f.name and f.name, f"format name {f.name!r} is empty or padded"
        for ext in f.extensions:
            assert ext and ext == ext.lower() and "/" not in ext, f"{f.name}: extension {ext!r} must be a lower-case name ending"
        for offset, data in f.magic_pairs:
            assert isinstance(offset, int) and offset >= 0 and isinstance(data, bytes) and data, f"{f.name}: bad magic {(offset, data)!r}"
        for pattern in f.patterns:
            assert isinstance(pattern, bytes), f"{f.name}: pattern {pattern!r} must be bytes"
            re.compile(pattern)
        for name in (*f.contains, *f.companions):
            assert isinstance(name, str) and name, f"{f.name}: contains/companions entries are non-empty names"
    return formats


def _foreign_inputs(folder: Path, formats: Sequence[FormatInfo]) -> list[Path]:
    """Files and folders that are not the plugin's, or only look like them by name."""
    import json
    import zipfile

    rng = np.random.default_rng(0)
    made: dict[str, bytes] = {
        "empty.bin": b"",
        "zeros.bin": bytes(4096),
        "random_small.bin": rng.bytes(7),
        "random.bin": rng.bytes(5000),
        "text.txt": b"hello\nworld\n" * 50,
        "data.json": json.dumps({"nodes": [], "weightsManifest": None, "a": [1, 2, 3]}).encode(),
        "list.json": b"[1, 2, 3]",
        "bad.json": b'{"unterminated": ',
        "hdf5.h5": b"\x89HDF\r\n\x1a\n" + rng.bytes(600),
        "proto.pb": b"\x08\x07\x12\x04test" + rng.bytes(100),
        "graph.pb": b"\x0a\x0c\x0a\x01x\x12\x07Placeholder",
        "image.png": b"\x89PNG\r\n\x1a\n" + rng.bytes(200),
        "flatbuffer.bin": b"\x1c\x00\x00\x00TFL3" + rng.bytes(200),
        "xml.xml": b'<?xml version="1.0"?><root><child/></root>',
        "gguf.bin": b"GGUF\x03\x00\x00\x00" + bytes(16),
        "unicode.txt": "ünïcödé ✓ 模型".encode(),
    }
    paths = []
    for name, data in made.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    archive = folder / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("member.txt", "not a model")
        zf.writestr("config.json", "{}")
    paths.append(archive)
    truncated_zip = folder / "truncated.zip"
    truncated_zip.write_bytes(archive.read_bytes()[:40])
    paths.append(truncated_zip)
    for k, f in enumerate(formats):
        for ext in f.extensions:  # the plugin's own names with someone else's content
            for kind, data in (("random", rng.bytes(300)), ("empty", b""), ("text", b"not the format\n")):
                path = folder / f"named{k}_{kind}{ext if ext.startswith('.') else '_' + ext}"
                path.write_bytes(data)
                paths.append(path)
    empty_dir = folder / "empty_folder"
    empty_dir.mkdir()
    full_dir = folder / "some_folder"
    full_dir.mkdir()
    (full_dir / "readme.txt").write_text("a folder that is not a model")
    (full_dir / "saved_model.pb").write_bytes(rng.bytes(64))
    paths += [empty_dir, full_dir, folder / "does_not_exist.bin"]
    for f in formats:
        for name in f.contains:  # a folder holding the telltale names, with garbage in them
            target = full_dir / name.rstrip("/")
            if name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            elif not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(rng.bytes(50))
    return paths


def check_sniff(plugin: object, folder: Path, extra: Iterable[Path] = ()) -> None:
    """``netray_sniff`` never raises or hangs on foreign input, and claims only declared formats."""
    sniff = getattr(plugin, "netray_sniff", None)
    if sniff is None:
        return  # claims come from the declarations alone
    declared = {f.name for f in check_declarations(plugin)}
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*_foreign_inputs(folder, list(_declared(plugin))), *extra]:
        head = read_head(path)
        started = time.monotonic()
        try:
            claim = sniff(path=path, head=head)
        except Exception as exc:
            raise AssertionError(f"netray_sniff raised {type(exc).__name__}: {exc} on {path.name}") from exc
        took = time.monotonic() - started
        assert took < SNIFF_SECONDS, f"netray_sniff took {took:.1f} s on {path.name}"
        if claim is not None:
            assert isinstance(claim, Claim), f"netray_sniff returned {claim!r} on {path.name}, not a Claim or None"
            assert claim.format in declared, f"netray_sniff claimed {claim.format!r}, which netray_formats does not declare ({sorted(declared)})"
            assert 0.0 < claim.confidence <= 1.0, f"confidence {claim.confidence} outside (0, 1] on {path.name}"


def _declared(plugin: object) -> list[FormatInfo]:
    return list(getattr(plugin, "netray_formats")())  # noqa: B009 - the hook, called as the manager would


def _is_meta(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list) and depth < 8:
        return all(_is_meta(v, depth + 1) for v in value)
    return False


def _check_metadata(mapping: Any, where: str) -> None:
    assert isinstance(mapping, dict), f"{where} is a {type(mapping).__name__}, not a dict"
    for key, value in mapping.items():
        assert isinstance(key, str), f"{where}: key {key!r} is not a string"
        assert _is_meta(value), f"{where}[{key!r}] = {type(value).__name__}: metadata values are bool, int, float, str or lists of them"


def _check_links(graph: Graph) -> None:
    where = f"graph {graph.name!r}"
    for node in graph.nodes:
        for v in node.input_values():
            assert any(c is node for c in v.consumers), f"{where}: {node.id or node.op} reads {v.name!r} but is not among its consumers (call graph.link())"
        for v in node.output_values():
            assert v.producer is node, f"{where}: {node.id or node.op} writes {v.name!r} but is not its producer (call graph.link())"
    for i, node in enumerate(graph.nodes):
        assert node.index == i, f"{where}: node {node.op} at position {i} has index {node.index} (use graph.add_node)"
    for v in [*graph.inputs, *graph.outputs]:
        assert graph.values.get(v.name) is v, f"{where}: input/output {v.name!r} is not in graph.values"


def _check_shape(shape: Any, where: str) -> None:
    if shape is None:
        return
    assert isinstance(shape, tuple), f"{where}: shape {shape!r} is a {type(shape).__name__}, not a tuple"
    for d in shape:
        ok = d is None or (isinstance(d, str) and d) or (isinstance(d, int) and not isinstance(d, bool) and d >= 0)
        assert ok, f"{where}: dimension {d!r} is not a size, a name or None"


def _check_quantization(q: Any, where: str) -> None:
    if q is None:
        return
    assert isinstance(q, Quantization), f"{where}: quantization is a {type(q).__name__}"
    assert q.block_size is None or (isinstance(q.block_size, int) and q.block_size > 0), f"{where}: block_size {q.block_size!r}"
    _check_metadata(q.details, f"{where}.details")


def _check_tensor(name: str, t: Tensor, read: bool) -> None:
    where = f"tensor {name!r}"
    assert isinstance(t, Tensor), f"{where} is a {type(t).__name__}"
    assert t.dtype is None or isinstance(t.dtype, str), f"{where}: dtype {t.dtype!r} is not a name"
    _check_shape(t.shape, where)
    _check_quantization(t.quantization, where)
    _check_metadata(t.metadata, f"{where}.metadata")
    assert t.loader is None or callable(t.loader), f"{where}: loader is not callable"
    assert t.byte_size is None or (isinstance(t.byte_size, int) and t.byte_size >= 0), f"{where}: byte_size {t.byte_size!r}"
    known = dtypes.byte_size(t.dtype, t.size)
    if known is not None and t.byte_size is not None and t.kind == "dense":
        info = dtypes.lookup(t.dtype)
        if info is not None and info.kind != "block" and info.bits < 8:
            # Sub-byte types are padded as each format packs them (ONNX to a byte, OpenVINO's u3 to groups of 8).
            assert t.byte_size >= known, f"{where}: byte_size {t.byte_size} but {t.size} elements of {t.dtype} need {known}"
        else:
            assert t.byte_size == known, f"{where}: byte_size {t.byte_size} but {t.size} elements of {t.dtype} take {known}"
    if not read or t.loader is None:
        return
    try:
        array = t.numpy()
    except FormatError:
        if dtypes.lookup(t.dtype) is None:
            return  # an opaque type (Python objects, records) may refuse to be read: netray never unpickles
        raise
    assert isinstance(array, np.ndarray), f"{where}: numpy() gave a {type(array).__name__}"
    if t.shape is not None and all(isinstance(d, int) for d in t.shape) and t.kind in ("dense", "quantized"):
        assert tuple(array.shape) == t.shape, f"{where}: numpy() gave shape {array.shape}, the tensor says {t.shape}"
    info = dtypes.lookup(t.dtype)
    if info is not None and info.kind == "block":
        assert array.dtype == np.float32, f"{where}: a {t.dtype} tensor's numpy() gives float32 values, not {array.dtype}"
    elif info is not None and info.kind not in ("string",) and t.kind in ("dense", "quantized"):
        expected = dtypes.numpy_dtype(t.dtype)
        if expected is not None:
            assert array.dtype == expected, f"{where}: numpy() gave {array.dtype}, the tensor says {t.dtype}"


def check_model(model: Model, folder: Path | None = None) -> None:
    """The model is linked, ids are unique, tensors and metadata are well-typed, and it saves as .netray."""
    assert isinstance(model, Model), f"the plugin returned a {type(model).__name__}, not a netray.Model"
    assert model.format, "Model.format is empty"
    _check_metadata(model.metadata, "Model.metadata")
    _check_metadata(model.properties, "Model.properties")
    assert model.graphs or model.tensors or model.metadata, "the model has no graph, no named tensors and no metadata"
    ids: dict[str, Any] = {}
    for graph in model.all_graphs():
        _check_links(graph)
        _check_metadata(graph.metadata, f"graph {graph.name!r} metadata")
        for node in graph.nodes:
            assert node.id, f"node {node.op} has no id (models loaded through netray get one)"
            assert node.id not in ids, f"two nodes share the id {node.id!r}"
            ids[node.id] = node
            _check_metadata(node.metadata, f"node {node.id!r} metadata")
            assert isinstance(node.scope, tuple) and all(isinstance(s, str) for s in node.scope), f"node {node.id!r}: scope must be a tuple of str"
        for v in graph.values.values():
            _check_shape(v.type.shape, f"value {v.name!r}")
            _check_quantization(v.quantization, f"value {v.name!r}")
    tensors = list(model.all_tensors())
    step = max(1, len(tensors) // TENSORS_READ)
    for k, (name, t) in enumerate(tensors):
        _check_tensor(name, t, read=k % step == 0)
    if folder is not None:
        from netray.netrayfile import load, save

        folder.mkdir(parents=True, exist_ok=True)
        saved = load(save(model, folder / "checked.netray", weights=False))
        assert [n.id for g in saved.all_graphs() for n in g.nodes] == list(ids), "the .netray round trip changed node ids"
        assert set(saved.tensors) == set(model.tensors), "the .netray round trip lost named tensors"


def check_load(plugin: object, path: Path, folder: Path | None = None) -> Model:
    """The plugin claims ``path`` and reads it into a model :func:`check_model` accepts; returns it."""
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "checked")
    found = manager.detect(path)
    assert found is not None, f"{_name(plugin)} does not claim {path.name}"
    model = manager.load(path)
    assert not manager.warnings, f"warnings while reading {path.name}: {manager.warnings}"
    check_model(model, folder)
    return model


def check_plugin(plugin: object, files: Iterable[Path], folder: Path) -> list[Model]:
    """All three checks: declarations, sniffing of foreign input, and loading each of ``files``."""
    check_declarations(plugin)
    files = list(files)
    check_sniff(plugin, folder / "foreign", files)
    models = []
    for k, path in enumerate(files):
        assert os.path.exists(path), f"{path} does not exist"
        models.append(check_load(plugin, Path(path), folder / f"load{k}"))
    return models
