"""The ``.netray`` file: netray's own portable, versioned graph file.

A zip archive holding

* ``netray.json`` (always the first member): a format marker, a version and the
  whole IR: model fields, a flat table of graphs (subgraphs and functions are
  referenced by index), a flat table of values, of nodes' ports and attributes
  and a table of tensors;
* with weights, one uncompressed ``.npy`` member per tensor. Members are stored
  (never deflated) so that loading gives lazy :func:`netray.file_slice_loader`\\ s
  that memory-map the bytes straight out of the archive.

The core reads it with no format plugin installed: this module is also a
built-in plugin (``netray_formats``/``netray_sniff``/``netray_load``), registered
by :func:`netray.plugins.get_manager`.

Reading is hostile-input safe: the JSON size is bounded, every index is checked,
graph nesting must be acyclic, tensor bytes are checked against their member,
and every problem becomes ``FormatError(path, "netray", reason)``.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from netray.atomic import replacing
from netray.errors import FormatError
from netray.hookspecs import Claim, FormatInfo, hookimpl
from netray.ir import (
    Attribute,
    AttrKind,
    Category,
    Graph,
    Model,
    Node,
    Port,
    Quantization,
    SourceLocation,
    Tensor,
    TensorType,
    Value,
    file_slice_loader,
)

FORMAT = "netray"
EXTENSION = ".netray"
VERSION = 1
JSON_MEMBER = "netray.json"
VIEWS_MEMBER = "dtypes.json"  # {tensor member: dtype name} for arrays stored as raw unsigned integers
MARKER = b'{"format": "netray"'
# netray.json of a model with a million nodes stays well under this.
MAX_JSON_BYTES = 1 << 30
MAX_NPY_HEADER = 1 << 16
ALIGNMENT = 64  # tensor data starts on this boundary, so memory maps are aligned
_ALIGN_EXTRA_ID = 0xD935  # the "zipalign" extra field id used by Android's tool
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # as zipfile.structFileHeader


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or encoding a large IR.

    Hundreds of thousands of new objects otherwise trigger repeated full
    collections over everything alive: loading then runs about 3 times slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------
# Values of any JSON-unfriendly type (attribute values, OTHER attributes, metadata)
# --------------------------------------------------------------------------------------
# Plain JSON scalars and lists stand for themselves; everything else is an object
# with exactly one "$" key, so an encoded value is never ambiguous.


class _Encoder:
    """Assigns table indices to graphs, values, nodes and tensors while writing."""

    def __init__(self) -> None:
        self.graphs: list[Graph] = []
        self.graph_ids: dict[int, int] = {}
        self.values: list[Value] = []
        self.value_ids: dict[int, int] = {}
        self.node_ids: dict[int, int] = {}
        self.tensors: list[Tensor] = []
        self.tensor_ids: dict[int, int] = {}

    def graph(self, g: Graph) -> int:
        return self.graph_ids[id(g)]

    def value(self, v: Value) -> int:
        index = self.value_ids.get(id(v))
        if index is None:
            index = self.value_ids[id(v)] = len(self.values)
            self.values.append(v)
        return index

    def tensor(self, t: Tensor) -> int:
        index = self.tensor_ids.get(id(t))
        if index is None:
            index = self.tensor_ids[id(t)] = len(self.tensors)
            self.tensors.append(t)
        return index

    def node(self, n: Node | None) -> int | None:
        return None if n is None else self.node_ids.get(id(n))

    def any(self, v: Any) -> Any:
        """A JSON-ready form of ``v`` that :meth:`_Decoder.any` turns back into an equal value."""
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (Category, AttrKind)):
            return v.value
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if math.isfinite(v) else {"$f": repr(float(v))}
        if isinstance(v, np.generic):
            return self.any(v.item())
        if isinstance(v, list):
            return [self.any(x) for x in v]
        if isinstance(v, tuple):
            return {"$t": [self.any(x) for x in v]}
        if isinstance(v, dict):
            return {"$d": [[self.any(k), self.any(x)] for k, x in v.items()]}
        if isinstance(v, (bytes, bytearray)):
            return {"$b": base64.b64encode(bytes(v)).decode("ascii")}
        if isinstance(v, Tensor):
            return {"$tensor": self.tensor(v)}
        if isinstance(v, Graph):
            return {"$graph": self.graph(v)}
        if isinstance(v, Value):
            return {"$value": self.value(v)}
        if isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
            return {"$array": {"dtype": v.dtype.str, "shape": list(v.shape), "data": v.ravel().tolist()}}
        return {"$repr": repr(v)}


def _graphs_in(v: Any) -> Iterable[Graph]:
    """Graphs nested anywhere in an attribute value."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, Graph):
            yield x
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _collect_graphs(model: Model, enc: _Encoder) -> None:
    """Number every graph reachable from the model, and every node of them."""
    pending = [*model.graphs, *model.functions]
    while pending:
        g = pending.pop(0)
        if id(g) in enc.graph_ids:
            continue
        enc.graph_ids[id(g)] = len(enc.graphs)
        enc.graphs.append(g)
        for node in g.nodes:
            enc.node_ids.setdefault(id(node), len(enc.node_ids))
            pending.extend(node.subgraphs)
            for a in node.attributes:
                pending.extend(_graphs_in(a.value))


def _strings(d: dict[Any, Any], enc: _Encoder) -> dict[str, Any]:
    return {str(k): enc.any(v) for k, v in d.items()}


def _node_json(node: Node, enc: _Encoder) -> dict[str, Any]:
    out: dict[str, Any] = {"op": node.op}
    if node.name:
        out["name"] = node.name
    if node.domain:
        out["domain"] = node.domain
    out["category"] = node.category.value
    out["inputs"] = [[p.name, [enc.value(v) for v in p.values]] for p in node.inputs]
    out["outputs"] = [[p.name, [enc.value(v) for v in p.values]] for p in node.outputs]
    if node.attributes:
        out["attributes"] = [
            {"name": a.name, "kind": AttrKind(a.kind).value, "value": enc.any(a.value), **({"doc": a.doc} if a.doc else {})}
            for a in node.attributes
        ]
    if node.subgraphs:
        out["subgraphs"] = [enc.graph(g) for g in node.subgraphs]
    if node.scope:
        out["scope"] = list(node.scope)
    if node.source is not None:
        s = node.source
        out["source"] = {"file": s.file, "line": s.line, "function": s.function, "stack": s.stack}
    if node.metadata:
        out["metadata"] = _strings(node.metadata, enc)
    if node.doc:
        out["doc"] = node.doc
    if node.device:
        out["device"] = node.device
    controls = [enc.node(c) for c in node.control_inputs]
    if controls:
        out["control_inputs"] = [c for c in controls if c is not None]
    return out


def _graph_json(g: Graph, enc: _Encoder) -> dict[str, Any]:
    values: list[Any] = []
    for key, v in g.values.items():
        index = enc.value(v)
        values.append(index if key == v.name else [key, index])
    out: dict[str, Any] = {"name": g.name, "kind": g.kind}
    if g.description:
        out["description"] = g.description
    if g.metadata:
        out["metadata"] = _strings(g.metadata, enc)
    out["values"] = values
    out["inputs"] = [enc.value(v) for v in g.inputs]
    out["outputs"] = [enc.value(v) for v in g.outputs]
    out["nodes"] = [_node_json(n, enc) for n in g.nodes]
    return out


def _value_json(v: Value, enc: _Encoder) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.name}
    t = v.type
    if t.dtype is not None:
        out["dtype"] = t.dtype
    if t.shape is not None:
        out["shape"] = [enc.any(d) for d in t.shape]
    if t.denotation:
        out["denotation"] = t.denotation
    if v.initializer is not None:
        out["initializer"] = enc.tensor(v.initializer)
    q = v.quantization
    if q is not None:
        out["quantization"] = {
            "scale": [float(x) for x in q.scale],
            "zero_point": [int(x) for x in q.zero_point],
            "axis": q.axis,
            "min": [float(x) for x in q.min],
            "max": [float(x) for x in q.max],
            "details": _strings(q.details, enc),
        }
    if v.description:
        out["description"] = v.description
    if v.metadata:
        out["metadata"] = _strings(v.metadata, enc)
    producer = enc.node(v.producer)
    if producer is not None:
        out["producer"] = producer
    consumers = [c for c in (enc.node(n) for n in v.consumers) if c is not None]
    if consumers:
        out["consumers"] = consumers
    return out


def _tensor_json(t: Tensor, member: str | None, enc: _Encoder) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name,
        "dtype": t.dtype,
        "shape": None if t.shape is None else [enc.any(d) for d in t.shape],
        "byte_size": t.byte_size,
        "location": t.location,
        "kind": t.kind,
    }
    if t.metadata:
        out["metadata"] = _strings(t.metadata, enc)
    if member is not None:
        out["data"] = member
    return out


def _storable(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The array in a form ``np.save`` writes without pickle, in C order, and the
    name of the dtype to view it as again when numpy alone cannot name it.

    Types from ml_dtypes (bfloat16, float8, int4) are stored as unsigned integers
    of the same width and viewed back on reading.
    """
    view = None
    if array.dtype.hasobject:
        items = array.ravel().tolist()
        kind = bytes if items and all(isinstance(x, bytes) for x in items) else str
        array = np.array([x if isinstance(x, kind) else str(x) for x in items], dtype=kind).reshape(array.shape)
    elif array.dtype.kind == "V" and array.dtype.names is None and array.dtype.itemsize in (1, 2, 4, 8):
        view = array.dtype.name
        array = array.view(f"<u{array.dtype.itemsize}") if array.flags.c_contiguous else array.copy(order="C").view(f"<u{array.dtype.itemsize}")
    if array.dtype.kind == "V":
        raise ValueError(f"dtype {array.dtype} cannot be stored in a .npy member")
    return (array if array.flags.c_contiguous else array.copy(order="C")), view


def _named_dtype(name: str) -> np.dtype[Any] | None:
    """numpy's dtype called ``name``, also from ml_dtypes when that is installed; None if unknown."""
    try:
        return np.dtype(name)
    except TypeError:
        pass
    try:
        import ml_dtypes  # optional: ships with onnx and jax, not a dependency of the core
    except ImportError:
        return None
    kind = getattr(ml_dtypes, name, None)
    return np.dtype(kind) if kind is not None else None


def _write_aligned_member(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """Write ``array`` as a stored ``.npy`` member whose data begins on an ALIGNMENT boundary."""
    big = array.nbytes > (1 << 30)  # zipfile then writes a 20-byte zip64 extra field too
    start = zf.fp.tell() if zf.fp is not None else 0
    fixed = _LOCAL_HEADER.size + len(name.encode()) + 4 + (20 if big else 0)
    pad = (-(start + fixed)) % ALIGNMENT  # the .npy header is itself padded to 64 bytes
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.extra = struct.pack("<HH", _ALIGN_EXTRA_ID, pad) + bytes(pad)
    with zf.open(info, "w", force_zip64=big) as fh:
        np.lib.format.write_array(fh, array, allow_pickle=False)


def _model_header(model: Model, enc: _Encoder) -> dict[str, Any]:
    return {
        "format": model.format,
        "format_version": model.format_version,
        "producer": model.producer,
        "producer_version": model.producer_version,
        "description": model.description,
        "metadata": _strings(model.metadata, enc),
        "imports": _strings(model.imports, enc),
        "properties": _strings(model.properties, enc),
        "source": model.source.name if model.source is not None else None,
    }


def model_json(model: Model) -> str:
    """The model as netray.json's text without tensor values (what `netray export -o x.json` writes)."""
    text, _enc, _tensors = _encode(model, weights=False)
    return text


def _encode(model: Model, weights: bool) -> tuple[str, _Encoder, list[dict[str, Any]]]:
    """netray.json's text, the encoder's tables and the tensors' entries."""
    enc = _Encoder()
    _collect_graphs(model, enc)
    doc: dict[str, Any] = {"version": VERSION, "model": _model_header(model, enc)}
    doc["graphs"] = [_graph_json(g, enc) for g in enc.graphs]
    doc["main"] = [enc.graph(g) for g in model.graphs]
    doc["functions"] = [enc.graph(g) for g in model.functions]
    # Encoding a table may discover more values or tensors (through metadata): loop until done.
    values_json: list[dict[str, Any]] = []
    while len(values_json) < len(enc.values):
        values_json.append(_value_json(enc.values[len(values_json)], enc))
    doc["values"] = values_json
    tensors_json: list[dict[str, Any]] = []
    while len(tensors_json) < len(enc.tensors):
        i = len(tensors_json)
        t = enc.tensors[i]
        tensors_json.append(_tensor_json(t, f"tensors/{i}.npy" if weights and t.loader is not None else None, enc))
    doc["tensors"] = tensors_json
    # The marker opens the file, so sniffing can check it from the first bytes.
    text = MARKER.decode() + ", " + json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)[1:]
    return text, enc, tensors_json


def save(model: Model, path: str | Path, weights: bool = True) -> Path:
    """Write ``model`` to ``path`` as a ``.netray`` file; with ``weights``, every readable tensor's values too.

    The file is written beside the target and renamed into place, so a failure
    leaves an existing file untouched. Raises FormatError (naming the tensor) when
    a tensor's values cannot be read; pass ``weights=False`` to save structure only.
    """
    path = Path(path)
    with _gc_paused():
        text, enc, tensors_json = _encode(model, weights)
    with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        info = zipfile.ZipInfo(JSON_MEMBER, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, text.encode("utf-8"))  # first member: sniffing reads it from the head
        views: dict[str, str] = {}
        for t, t_json in zip(enc.tensors, tensors_json, strict=True):
            member = t_json.get("data")
            if member is None:
                continue
            try:
                array, view = _storable(np.asarray(t.numpy()))
            except FormatError as exc:
                raise FormatError(path, FORMAT, f"cannot save the values of tensor {t.name!r} ({exc.reason}); save with weights=False to keep structure only") from exc
            except ValueError as exc:
                raise FormatError(path, FORMAT, f"cannot save tensor {t.name!r}: {exc}") from exc
            _write_aligned_member(zf, member, array)
            if view is not None:
                views[member] = view
        if views:  # known only now that the arrays were read, so after them
            zf.writestr(zipfile.ZipInfo(VIEWS_MEMBER, date_time=(1980, 1, 1, 0, 0, 0)), json.dumps(views))
    return path


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


class _Bad(Exception):
    """Something in the file is wrong; becomes FormatError(path, "netray", reason)."""


def _expect(x: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(x, kind) or (kind is int and isinstance(x, bool)):
        raise _Bad(f"{where}: expected {getattr(kind, '__name__', kind)}, found {type(x).__name__}")
    return x


def _index(x: Any, size: int, where: str) -> int:
    if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < size:
        raise _Bad(f"{where}: reference {x!r} out of range (0..{size - 1})")
    return x


# The helpers below build their error text only on failure: they run for every field.
def _str(d: dict[str, Any], key: str, where: str, default: str = "") -> str:
    x = d.get(key, default)
    if type(x) is not str:
        raise _Bad(f"{where}.{key}: expected str, found {type(x).__name__}")
    return x


def _list(d: dict[str, Any], key: str, where: str) -> list[Any]:
    x = d.get(key)
    if x is None:
        return []
    if type(x) is not list:
        raise _Bad(f"{where}.{key}: expected list, found {type(x).__name__}")
    return x


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or (isinstance(d, (int, str)) and not isinstance(d, bool)) for d in x)


def _fits_kind(kind: AttrKind, value: Any) -> bool:
    """Whether an attribute value has the structure its kind promises to readers (panels, hierarchy).

    Scalar and list kinds are left loose: plugins fill them with what their format holds.
    """
    if value is None:
        return True
    if kind is AttrKind.FLOAT:
        return isinstance(value, (int, float))
    if kind is AttrKind.TENSOR:
        return isinstance(value, Tensor)
    if kind is AttrKind.GRAPH:
        return isinstance(value, Graph)
    if kind is AttrKind.SHAPE:
        return _is_shape(value)
    sequence = isinstance(value, (list, tuple))
    if kind is AttrKind.TENSORS:
        return sequence and all(isinstance(x, Tensor) for x in value)
    if kind is AttrKind.GRAPHS:
        return sequence and all(isinstance(x, Graph) for x in value)
    if kind is AttrKind.SHAPES:
        return sequence and all(x is None or _is_shape(x) for x in value)
    return True


class _Decoder:
    """Rebuilds the IR from a parsed netray.json, checking every reference."""

    def __init__(self, doc: dict[str, Any], tensor_loaders: list[Callable[[], np.ndarray] | None]) -> None:
        self.doc = doc
        graphs = _list(doc, "graphs", "netray.json")
        values = _list(doc, "values", "netray.json")
        tensors = _list(doc, "tensors", "netray.json")
        self.graph_docs = [_expect(g, dict, f"graphs[{i}]") for i, g in enumerate(graphs)]
        self.value_docs = [_expect(v, dict, f"values[{i}]") for i, v in enumerate(values)]
        self.tensor_docs = [_expect(t, dict, f"tensors[{i}]") for i, t in enumerate(tensors)]
        self.graphs = [Graph(_str(g, "name", f"graphs[{i}]"), _str(g, "kind", f"graphs[{i}]", "graph")) for i, g in enumerate(self.graph_docs)]
        self.tensors = [self._tensor(t, tensor_loaders[i], f"tensors[{i}]") for i, t in enumerate(self.tensor_docs)]
        self.values = [Value(_str(v, "name", f"values[{i}]")) for i, v in enumerate(self.value_docs)]
        self.nodes: list[Node] = []

    # -- generic values ------------------------------------------------------------
    def any(self, x: Any, where: str) -> Any:
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.any(y, where) for y in x]
        if not isinstance(x, dict) or len(x) != 1:
            raise _Bad(f"{where}: malformed value")
        ((tag, body),) = x.items()
        if tag == "$t":
            return tuple(self.any(y, where) for y in _expect(body, list, where))
        if tag == "$d":
            pairs = _expect(body, list, where)
            out = {}
            for pair in pairs:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _Bad(f"{where}: malformed mapping")
                key = self.any(pair[0], where)
                try:
                    out[key] = self.any(pair[1], where)
                except TypeError as exc:  # an unhashable key
                    raise _Bad(f"{where}: malformed mapping key") from exc
            return out
        if tag == "$f":
            if body not in ("nan", "inf", "-inf"):
                raise _Bad(f"{where}: malformed float {body!r}")
            return float(body)
        if tag == "$b":
            try:
                return base64.b64decode(_expect(body, str, where), validate=True)
            except ValueError as exc:
                raise _Bad(f"{where}: malformed bytes") from exc
        if tag == "$tensor":
            return self.tensors[_index(body, len(self.tensors), where)]
        if tag == "$graph":
            return self.graphs[_index(body, len(self.graphs), where)]
        if tag == "$value":
            return self.values[_index(body, len(self.values), where)]
        if tag == "$array":
            spec = _expect(body, dict, where)
            try:
                dtype = np.dtype(_expect(spec.get("dtype"), str, where))
                if dtype.kind not in "biuf":
                    raise _Bad(f"{where}: array dtype {dtype} not allowed")
                shape = tuple(_index(d, 1 << 40, where) for d in _expect(spec.get("shape"), list, where))
                return np.array(_expect(spec.get("data"), list, where), dtype=dtype).reshape(shape)
            except (TypeError, ValueError) as exc:
                raise _Bad(f"{where}: malformed array: {exc}") from exc
        if tag == "$repr":
            return _expect(body, str, where)
        raise _Bad(f"{where}: unknown value tag {tag!r}")

    def mapping(self, d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        m = d.get(key)
        if m is None:
            return {}
        if type(m) is not dict:
            raise _Bad(f"{where}.{key}: expected dict, found {type(m).__name__}")
        return {k: v if type(v) is str else self.any(v, f"{where}.{key}.{k}") for k, v in m.items()}

    def shape(self, x: Any, where: str) -> tuple[Any, ...] | None:
        if x is None:
            return None
        dims = []
        for d in _expect(x, list, where):
            if (d is not None and not isinstance(d, (int, str))) or isinstance(d, bool):
                raise _Bad(f"{where}: a dimension must be an integer, a name or null, found {d!r}")
            dims.append(d)
        return tuple(dims)

    # -- tables -----------------------------------------------------------------------
    def _tensor(self, t: dict[str, Any], loader: Callable[[], np.ndarray] | None, where: str) -> Tensor:
        dtype = t.get("dtype")
        if dtype is not None:
            _expect(dtype, str, f"{where}.dtype")
        byte_size = t.get("byte_size")
        if byte_size is not None:
            _expect(byte_size, int, f"{where}.byte_size")
        return Tensor(
            _str(t, "name", where),
            dtype,
            self.shape(t.get("shape"), f"{where}.shape"),
            loader=loader,
            byte_size=byte_size,
            location=_str(t, "location", where),
            kind=_str(t, "kind", where, "dense"),
            metadata=self.mapping(t, "metadata", where),
        )

    def build(self) -> Model:
        for gi, g in enumerate(self.graph_docs):
            self._fill_nodes(self.graphs[gi], g, f"graphs[{gi}]")
        for gi, g in enumerate(self.graph_docs):
            self._fill_graph(self.graphs[gi], g, f"graphs[{gi}]")
        for vi, v in enumerate(self.value_docs):
            self._fill_value(self.values[vi], v, f"values[{vi}]")
        self._check_acyclic()

        head = _expect(self.doc.get("model"), dict, "model")
        model = Model(_str(head, "format", "model"))
        model.format_version = _str(head, "format_version", "model")
        model.producer = _str(head, "producer", "model")
        model.producer_version = _str(head, "producer_version", "model")
        model.description = _str(head, "description", "model")
        model.metadata = self.mapping(head, "metadata", "model")
        model.imports = self.mapping(head, "imports", "model")
        model.properties = self.mapping(head, "properties", "model")
        model.graphs = [self.graphs[_index(i, len(self.graphs), "main")] for i in _list(self.doc, "main", "netray.json")]
        model.functions = [self.graphs[_index(i, len(self.graphs), "functions")] for i in _list(self.doc, "functions", "netray.json")]
        return model

    def _ports(self, x: Any, where: str) -> list[Port]:
        ports = []
        for i, p in enumerate(_expect(x, list, where)):
            if not isinstance(p, list) or len(p) != 2:
                raise _Bad(f"{where}[{i}]: a port is [name, [values]]")
            name = _expect(p[0], str, f"{where}[{i}]")
            values = [self.values[_index(v, len(self.values), f"{where}[{i}]")] for v in _expect(p[1], list, f"{where}[{i}]")]
            ports.append(Port(name, values))
        return ports

    def _fill_nodes(self, graph: Graph, g: dict[str, Any], where: str) -> None:
        for ni, n in enumerate(_list(g, "nodes", where)):
            w = f"{where}.nodes[{ni}]"
            _expect(n, dict, w)
            try:
                category = Category(_str(n, "category", w, "other"))
            except ValueError as exc:
                raise _Bad(f"{w}: unknown category {n.get('category')!r}") from exc
            node = Node(_str(n, "op", w), name=_str(n, "name", w), domain=_str(n, "domain", w), category=category)
            node.doc = _str(n, "doc", w)
            node.device = _str(n, "device", w)
            graph.add_node(node)
            self.nodes.append(node)

    def _fill_graph(self, graph: Graph, g: dict[str, Any], where: str) -> None:
        graph.description = _str(g, "description", where)
        graph.metadata = self.mapping(g, "metadata", where)
        for entry in _list(g, "values", where):
            if isinstance(entry, list) and len(entry) == 2:
                key, index = _expect(entry[0], str, f"{where}.values"), entry[1]
            else:
                key, index = None, entry
            v = self.values[_index(index, len(self.values), f"{where}.values")]
            graph.values[key if key is not None else v.name] = v
        graph.inputs = [self.values[_index(i, len(self.values), f"{where}.inputs")] for i in _list(g, "inputs", where)]
        graph.outputs = [self.values[_index(i, len(self.values), f"{where}.outputs")] for i in _list(g, "outputs", where)]
        for node, n in zip(graph.nodes, _list(g, "nodes", where), strict=True):
            w = f"{where}.nodes[{node.index}]"
            node.inputs = self._ports(n.get("inputs", []), f"{w}.inputs")
            node.outputs = self._ports(n.get("outputs", []), f"{w}.outputs")
            node.subgraphs = [self.graphs[_index(i, len(self.graphs), f"{w}.subgraphs")] for i in _list(n, "subgraphs", w)]
            node.scope = tuple(_expect(s, str, f"{w}.scope") for s in _list(n, "scope", w))
            node.metadata = self.mapping(n, "metadata", w)
            node.control_inputs = [self.nodes[_index(i, len(self.nodes), f"{w}.control_inputs")] for i in _list(n, "control_inputs", w)]
            source = n.get("source")
            if source is not None:
                s = _expect(source, dict, f"{w}.source")
                line = s.get("line")
                if line is not None:
                    _expect(line, int, f"{w}.source.line")
                node.source = SourceLocation(_str(s, "file", f"{w}.source"), line, _str(s, "function", f"{w}.source"), _str(s, "stack", f"{w}.source"))
            for ai, a in enumerate(_list(n, "attributes", w)):
                aw = f"{w}.attributes[{ai}]"
                _expect(a, dict, aw)
                try:
                    kind = AttrKind(_str(a, "kind", aw))
                except ValueError as exc:
                    raise _Bad(f"{aw}: unknown attribute kind {a.get('kind')!r}") from exc
                value = self.any(a.get("value"), aw)
                if not _fits_kind(kind, value):
                    raise _Bad(f"{aw}: a {kind.value} attribute cannot hold {type(value).__name__}")
                node.attributes.append(Attribute(_str(a, "name", aw), kind, value, _str(a, "doc", aw)))

    def _fill_value(self, value: Value, v: dict[str, Any], where: str) -> None:
        dtype = v.get("dtype")
        if dtype is not None:
            _expect(dtype, str, f"{where}.dtype")
        value.type = TensorType(dtype, self.shape(v.get("shape"), f"{where}.shape"), _str(v, "denotation", where))
        if v.get("initializer") is not None:
            value.initializer = self.tensors[_index(v["initializer"], len(self.tensors), f"{where}.initializer")]
        q = v.get("quantization")
        if q is not None:
            _expect(q, dict, f"{where}.quantization")
            axis = q.get("axis")
            if axis is not None:
                _expect(axis, int, f"{where}.quantization.axis")
            try:
                value.quantization = Quantization(
                    scale=[float(x) for x in _list(q, "scale", where)],
                    zero_point=[int(x) for x in _list(q, "zero_point", where)],
                    axis=axis,
                    min=[float(x) for x in _list(q, "min", where)],
                    max=[float(x) for x in _list(q, "max", where)],
                    details=self.mapping(q, "details", f"{where}.quantization"),
                )
            except (TypeError, ValueError) as exc:
                raise _Bad(f"{where}.quantization: {exc}") from exc
        value.description = _str(v, "description", where)
        value.metadata = self.mapping(v, "metadata", where)
        # Producer and consumers are kept as written (a subgraph may read an outer value),
        # but each must really have the value among its outputs or inputs.
        if v.get("producer") is not None:
            value.producer = self.nodes[_index(v["producer"], len(self.nodes), f"{where}.producer")]
            if not any(x is value for x in value.producer.output_values()):
                raise _Bad(f"{where}: its producer {value.producer.name or value.producer.op!r} does not output it")
        value.consumers = [self.nodes[_index(i, len(self.nodes), f"{where}.consumers")] for i in _list(v, "consumers", where)]
        for consumer in value.consumers:
            if not any(x is value for x in consumer.input_values()):
                raise _Bad(f"{where}: its consumer {consumer.name or consumer.op!r} does not read it")

    def _check_acyclic(self) -> None:
        """A graph may not contain itself (walks over subgraphs would never end)."""
        children: dict[int, set[int]] = {}
        index_of = {id(g): i for i, g in enumerate(self.graphs)}
        for gi, g in enumerate(self.graphs):
            kids = children.setdefault(gi, set())
            for node in g.nodes:
                kids.update(index_of[id(s)] for s in node.subgraphs)
                for a in node.attributes:
                    kids.update(index_of[id(s)] for s in _graphs_in(a.value))
        state = [0] * len(self.graphs)  # 0 unvisited, 1 on the stack, 2 done
        for root in range(len(self.graphs)):
            if state[root]:
                continue
            stack = [(root, iter(children[root]))]
            state[root] = 1
            while stack:
                gi, it = stack[-1]
                child = next(it, None)
                if child is None:
                    state[gi] = 2
                    stack.pop()
                elif state[child] == 1:
                    raise _Bad(f"graph {self.graphs[child].name!r} contains itself")
                elif state[child] == 0:
                    state[child] = 1
                    stack.append((child, iter(children[child])))


def _npy_loader(path: Path, f: Any, zf: zipfile.ZipFile, member: str, file_size: int) -> Callable[[], np.ndarray]:
    """A memory-mapping loader for a stored ``.npy`` member, after checking its header."""
    try:
        info = zf.getinfo(member)
    except KeyError as exc:
        raise _Bad(f"tensor member {member!r} is missing from the archive") from exc
    if info.compress_type != zipfile.ZIP_STORED:
        raise _Bad(f"tensor member {member!r} is compressed; tensors must be stored")
    if info.header_offset + _LOCAL_HEADER.size > file_size:
        raise _Bad(f"tensor member {member!r} lies past the end of the file")
    f.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise _Bad(f"tensor member {member!r} has a bad local header")
    start = info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11]
    if start + info.file_size > file_size:
        raise _Bad(f"tensor member {member!r} lies past the end of the file")
    f.seek(start)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise _Bad(f"tensor member {member!r}: {exc}") from exc
    if dtype.hasobject or fortran:
        raise _Bad(f"tensor member {member!r}: object or Fortran-ordered arrays are not allowed")
    data_start = f.tell()
    length = start + info.file_size - data_start
    expected = math.prod(shape) * dtype.itemsize  # Python integers: a hostile shape cannot overflow
    if length != expected:
        raise _Bad(f"tensor member {member!r} holds {length} bytes, its header says {expected}")
    return file_slice_loader(path, data_start, length, dtype, shape)


def _read_views(zf: zipfile.ZipFile) -> dict[str, str]:
    """The dtype names of tensors stored as raw unsigned integers (an absent member: none)."""
    try:
        info = zf.getinfo(VIEWS_MEMBER)
    except KeyError:
        return {}
    if info.file_size > MAX_JSON_BYTES:
        raise _Bad(f"{VIEWS_MEMBER} is too large")
    views = json.loads(zf.read(info).decode("utf-8"))
    if not isinstance(views, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in views.items()):
        raise _Bad(f"{VIEWS_MEMBER} must map tensor members to dtype names")
    return views


def _viewing_loader(path: Path, load_raw: Callable[[], np.ndarray], name: str) -> Callable[[], np.ndarray]:
    """A loader giving the raw unsigned array viewed as dtype ``name``; without ml_dtypes, the raw array."""

    def load() -> np.ndarray:
        raw = load_raw()
        dtype = _named_dtype(name)
        if dtype is None:
            return raw
        if dtype.itemsize != raw.dtype.itemsize:
            raise FormatError(path, FORMAT, f"dtype {name} does not match its stored {raw.dtype} values")
        return raw.view(dtype)

    return load


def _read_json(zf: zipfile.ZipFile, file_size: int) -> dict[str, Any]:
    try:
        info = zf.getinfo(JSON_MEMBER)
    except KeyError as exc:
        raise _Bad(f"the archive has no {JSON_MEMBER}") from exc
    if info.file_size > MAX_JSON_BYTES:
        raise _Bad(f"{JSON_MEMBER} declares {info.file_size} bytes, more than the {MAX_JSON_BYTES} allowed")
    if info.compress_size > file_size:
        raise _Bad(f"{JSON_MEMBER} is larger than the file")
    with zf.open(info) as fh:
        raw = fh.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise _Bad(f"{JSON_MEMBER} is larger than {MAX_JSON_BYTES} bytes")
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _Bad(f"{JSON_MEMBER} lacks the netray format marker")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _Bad(f"{JSON_MEMBER} has no version")
    if version > VERSION:
        raise _Bad(f"file version {version} is newer than this netray reads ({VERSION}); update netray")
    return doc


def load(path: str | Path) -> Model:
    """Read a ``.netray`` file. Tensors with stored values get memory-mapping loaders."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
        with _gc_paused(), open(path, "rb") as f, zipfile.ZipFile(f) as zf:
            doc = _read_json(zf, file_size)
            tensors = _expect(doc.get("tensors", []), list, "tensors")
            views = _read_views(zf)
            loaders: list[Callable[[], np.ndarray] | None] = []
            for i, t in enumerate(tensors):
                member = _expect(t, dict, f"tensors[{i}]").get("data")
                if member is None:
                    loaders.append(None)
                    continue
                loader = _npy_loader(path, f, zf, _expect(member, str, f"tensors[{i}].data"), file_size)
                loaders.append(loader if member not in views else _viewing_loader(path, loader, views[member]))
            model = _Decoder(doc, loaders).build()
    except _Bad as exc:
        raise FormatError(path, FORMAT, str(exc)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise FormatError(path, FORMAT, f"not a readable zip archive ({exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(path, FORMAT, f"{JSON_MEMBER} is not valid JSON ({exc})") from None
    except RecursionError:
        raise FormatError(path, FORMAT, f"{JSON_MEMBER} is nested too deeply") from None
    except (OSError, struct.error, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise FormatError(path, FORMAT, f"malformed file ({type(exc).__name__}: {exc})") from None
    model.source = path
    return model


# --------------------------------------------------------------------------------------
# The built-in plugin
# --------------------------------------------------------------------------------------


def looks_like_netray(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) is a zip whose first member is netray.json with the marker."""
    if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        return False
    fields = _LOCAL_HEADER.unpack(head[: _LOCAL_HEADER.size])
    method, name_len, extra_len = fields[4], fields[10], fields[11]
    name_end = _LOCAL_HEADER.size + name_len
    if head[_LOCAL_HEADER.size : name_end] != JSON_MEMBER.encode():
        return False
    data = head[name_end + extra_len :]
    if method == zipfile.ZIP_DEFLATED:
        try:
            data = zlib.decompressobj(-15).decompress(data, len(MARKER))
        except zlib.error:
            return False
    elif method != zipfile.ZIP_STORED:
        return False
    return data.startswith(MARKER)


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return [FormatInfo(FORMAT, (EXTENSION,), "netray's portable graph file (structure, optional weights)")]


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    if looks_like_netray(head):
        return Claim(FORMAT, 1.0)
    if path.suffix.lower() == EXTENSION and path.is_file():
        return Claim(FORMAT, 0.1)  # claim it anyway, so a damaged file gets a netray error
    return None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    return load(path)
