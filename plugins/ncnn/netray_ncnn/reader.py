"""An ncnn param (text or binary) and the .bin beside it -> netray Model.

Each layer is a node titled by its type, with its params as attributes named by
ncnn's operator documentation (``0=64`` on a Convolution is ``num_output=64``).
Blobs are the values between them. ``Input`` layers become the graph's inputs (their
``w``/``h``/``c`` give the shape, in numpy order ``(c, h, w)``), and ``MemoryData``
layers become constants: weights of the layers that read them. Blobs no layer
reads are the graph's outputs.
"""

from __future__ import annotations

from pathlib import Path

from netray import Attribute, AttrKind, FormatError, Graph, Model, Node, Port, Tensor, TensorType, Value
from netray_ncnn.formats import FORMAT
from netray_ncnn.modelbin import Need, PlanError, place, plan
from netray_ncnn.operator_table import OPERATORS
from netray_ncnn.operators import category, param_name, param_type
from netray_ncnn.param import LayerRecord, ParamFile, ParamValue, read_param

MAX_DIMS = 4


def weights_path(path: Path) -> Path:
    """``net.param`` / ``net.param.bin`` -> ``net.bin`` in the same folder."""
    name = path.name
    for suffix in (".param.bin", ".param"):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".bin")
    return path.with_suffix(".bin")


def inside(folder: Path, candidate: Path) -> bool:
    try:
        return candidate.is_file() and candidate.resolve().parent == folder.resolve()
    except OSError:
        return False


def shape_of(
    params: dict[int, ParamValue], w_id: int = 0, h_id: int = 1, d_id: int = 11, c_id: int = 2
) -> tuple[int, ...] | None:
    """Input's / MemoryData's w, h, d, c as a numpy-order shape: (c, d, h, w) with the unset trailing ones dropped."""

    def get(pid: int) -> int:
        v = params.get(pid, 0)
        return int(v) if isinstance(v, (int, float)) else 0

    w, h, d, c = get(w_id), get(h_id), get(d_id), get(c_id)
    if min(w, h, d, c) < 0:
        return None
    if c:
        return (c, d, h, w) if d else (c, h, w)
    if h:
        return (h, w)
    if w:
        return (w,)
    return None


def hint_shapes(layer: LayerRecord) -> list[tuple[int, ...] | None]:
    """Param 30 of any layer: shape hints for its outputs, ``[dims, w, h, (d,) c]`` per output."""
    hints = layer.params.get(30)
    if not isinstance(hints, list) or not layer.tops or len(hints) % len(layer.tops):
        return []
    step = len(hints) // len(layer.tops)
    shapes: list[tuple[int, ...] | None] = []
    for k in range(len(layer.tops)):
        part = [int(x) for x in hints[k * step : (k + 1) * step]]
        dims = part[0] if part else 0
        if not 1 <= dims <= MAX_DIMS or len(part) < dims + 1:
            shapes.append(None)
            continue
        wh = part[1 : 1 + dims] if not (dims == 3 and step == 5) else [part[1], part[2], part[4]]
        shapes.append(tuple(reversed(wh)) if all(x > 0 for x in wh) else None)
    return shapes


def attribute(op: str, pid: int, value: ParamValue) -> Attribute:
    name = param_name(op, pid)
    attr = Attribute.of(name, value) or Attribute(name, AttrKind.STRING, str(value))
    kind = param_type(op, pid)
    attr.doc = f"param {pid}" + (f" ({kind})" if kind else " (not in ncnn's operator documentation)")
    return attr


class Builder:
    def __init__(self, path: Path, pf: ParamFile) -> None:
        self.path = path
        self.pf = pf
        self.graph = Graph(path.name.split(".param")[0], kind="main")
        self.blobs: dict[str, Value] = {}  # first blob of each name, as ncnn's find_blob_index_by_name
        self.produced: set[str] = set()
        self.consumed: set[str] = set()
        self.notes: list[str] = []

    def blob(self, name: str) -> Value:
        value = self.blobs.get(name)
        if value is None:
            value = self.graph.value(name) if name not in self.graph.values else self.fresh(name)
            self.blobs[name] = value
        return value

    def fresh(self, name: str) -> Value:
        """A new value named after ``name``, never one that exists (blob names and weight names share the graph)."""
        k = 1
        while f"{name}#{k}" in self.graph.values:
            k += 1
        return self.graph.value(f"{name}#{k}")

    def top(self, layer: LayerRecord, name: str) -> Value:
        """An output blob: always a new one. A name already read or written stays bound to its first blob, as
        ncnn's find_blob_index_by_name binds it; so no layer can feed an earlier one (no cycles)."""
        if name in self.blobs:
            self.notes.append(
                f"{layer.type} {layer.name!r} writes blob {name!r}, which an earlier layer already read or wrote; "
                "readers keep the first"
            )
            return self.fresh(name)
        self.produced.add(name)
        return self.blob(name)

    def build(self, tensors: dict[tuple[int, str], Tensor], plans: list[list[Need]]) -> Graph:
        for index, layer in enumerate(self.pf.layers):
            hints = hint_shapes(layer)
            tops = [self.top(layer, t) for t in layer.tops]
            for value, shape in zip(tops, hints, strict=False):
                if shape is not None:
                    value.type = TensorType("float32", shape)
            if layer.type == "Input":
                for value in tops:
                    if value.type.shape is None:
                        value.type = TensorType("float32", shape_of(layer.params))
                    value.metadata["layer"] = layer.name
                    value.description = f"Input layer {layer.name!r}"
                    self.graph.inputs.append(value)
                continue
            if layer.type == "MemoryData" and len(tops) == 1:
                value = tops[0]
                tensor = tensors.get((index, "data"))
                if tensor is None:
                    tensor = Tensor(value.name, "float32", shape_of(layer.params), location="no .bin: not stored")
                value.initializer = tensor
                value.type = TensorType(tensor.dtype, tensor.shape)
                value.metadata["layer"] = layer.name
                continue
            node = Node(
                layer.type,
                name=layer.name,
                category=category(layer.type),
                attributes=[attribute(layer.type, pid, v) for pid, v in sorted(layer.params.items()) if pid != 30],
            )
            for k, name in enumerate(layer.bottoms):
                self.consumed.add(name)
                node.inputs.append(Port("input" if len(layer.bottoms) == 1 else f"input{k}", [self.blob(name)]))
            for need in plans[index]:
                key = f"{layer.name}.{need.name}"
                value = self.graph.value(key) if key not in self.graph.values else self.fresh(key)
                tensor = tensors.get((index, need.name)) or Tensor(
                    value.name,
                    "float32" if need.type == 1 else None,  # a tagged array's storage type is in the .bin
                    need.shape,
                    location="no .bin beside the param: not stored",
                )
                value.initializer = tensor
                value.type = TensorType(tensor.dtype, tensor.shape)
                node.inputs.append(Port(need.name.removesuffix("_data").replace("_data_", "_") or need.name, [value]))
            node.outputs = [Port("output" if len(tops) == 1 else f"output{k}", [v]) for k, v in enumerate(tops)]
            node.metadata["line" if not self.pf.binary else "position"] = layer.line
            self.graph.add_node(node)
        for name, value in self.blobs.items():
            if (
                value.producer is None
                and name not in self.produced
                and value not in self.graph.inputs
                and value.initializer is None
            ):
                self.graph.inputs.append(value)  # read but never written: an input ncnn expects the caller to feed
                self.notes.append(f"blob {name!r} is read but no layer writes it")
        self.graph.outputs = [
            v
            for n, v in self.blobs.items()
            if n in self.produced and n not in self.consumed and v.initializer is None and v not in self.graph.inputs
        ]
        return self.graph.link()


def load(path: Path) -> Model:
    if path.is_dir():
        raise FormatError(path, FORMAT, "a folder, not an ncnn .param")
    pf = read_param(path)
    plans: list[list[Need]] = []
    plan_errors: list[str] = []
    for layer in pf.layers:
        try:
            plans.append(plan(layer))
        except PlanError as exc:
            plans.append([])
            plan_errors.append(f"{layer.type} {layer.name!r}: {exc}; its weights cannot be placed")
    bin_path = weights_path(path)
    tensors: dict[tuple[int, str], Tensor] = {}
    model = Model(FORMAT)
    model.format_version = "binary param" if pf.binary else "text param"
    if inside(path.parent, bin_path) and bin_path != path:
        size = bin_path.stat().st_size
        cut = next(
            (
                i
                for i, layer in enumerate(pf.layers)
                if any(e.startswith(f"{layer.type} {layer.name!r}") for e in plan_errors)
            ),
            len(pf.layers),
        )
        placed = place(bin_path, pf.layers[:cut], plans[:cut], size)
        tensors = placed.tensors
        for i in range(cut, len(pf.layers)):
            for need in plans[i]:
                tensors[(i, need.name)] = Tensor(
                    f"{pf.layers[i].name}.{need.name}",
                    None,
                    need.shape,
                    location="after a layer whose weight sizes are unknown: not placed",
                )
        model.properties["weights file"] = bin_path.name
        model.properties["weights size"] = placed.note
    else:
        model.properties["weights file"] = f"none beside the param ({bin_path.name}): weights not stored"
    builder = Builder(path, pf)
    graph = builder.build(tensors, plans)
    model.graphs = [graph]
    model.properties["layers"] = pf.layer_count
    model.properties["blobs"] = pf.blob_count
    blobs_seen = len(builder.blobs) + sum(1 for n in graph.values if "#" in n and n.split("#")[0] in builder.blobs)
    if blobs_seen > pf.blob_count:
        builder.notes.append(
            f"declares {pf.blob_count} blobs but names {blobs_seen} (ncnn would write past its blob table)"
        )
    unknown = sorted({layer.type for layer in pf.layers if layer.type not in OPERATORS})
    if unknown:
        model.properties["undocumented layer types"] = unknown
    notes = plan_errors + builder.notes
    if notes:
        model.properties["notes"] = notes[:50]
    if pf.binary:
        model.properties["names"] = "a binary param stores no names: layers and blobs are named by their index"
    return model
