"""The in-memory model every format plugin fills: Model, Graph, Node, Value, Tensor.

Nothing here knows about a particular format. Plugins build these objects; the
hierarchy, layout, viewer, CLI and exporters read them. Classes use ``slots``
because a large model holds hundreds of thousands of nodes and values.

Weights are lazy: a :class:`Tensor` carries a loader, never bytes, until
someone calls :meth:`Tensor.numpy`.
"""

from __future__ import annotations

import enum
import mmap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

Dim = int | str | None
"""One dimension of a shape: a size, a symbolic name (``"batch"``), or unknown."""

Shape = tuple[Dim, ...]

MetaValue: TypeAlias = bool | int | float | str | list[bool] | list[int] | list[float] | list[str] | list["MetaValue"]
"""A typed metadata value: a scalar or an array of them (GGUF's typed key/values, ONNX's
``metadata_props`` strings, safetensors' ``__metadata__``). Kept as the file types it.
(Lists of one scalar type are named too: ``list`` is invariant, and ``list[str]`` is what
readers build.)"""

Metadata: TypeAlias = dict[str, MetaValue]


class Category(str, enum.Enum):
    """What an operation does, used for colour and for summaries."""

    LAYER = "layer"
    ACTIVATION = "activation"
    NORMALIZATION = "normalization"
    POOL = "pool"
    SHAPE = "shape"
    TENSOR = "tensor"
    CONTROL = "control"
    QUANTIZATION = "quantization"
    CUSTOM = "custom"
    OTHER = "other"


def meta_text(value: MetaValue, limit: int = 200, total: int | None = None) -> str:
    """A metadata value as one readable line: arrays show their first items and their length.

    ``total`` is the array's full length where ``value`` holds only its first items.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        shown: list[str] = []
        used = 2
        for item in value:
            text = meta_text(item, limit)
            if used + len(text) + 2 > limit and shown:
                break
            shown.append(text)
            used += len(text) + 2
        length = len(value) if total is None else total
        more = f", … ({length:,} items)" if len(shown) < length else ""
        return "[" + ", ".join(shown) + more + "]"
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shape_text(shape: Shape | None) -> str:
    """``(1, 3, 'h', None)`` -> ``1x3xhx?``; unknown rank -> ``?``; scalar -> ``scalar``."""
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    return "x".join("?" if d is None else _dim_text(d) for d in shape)


def _dim_text(d: int | str) -> str:
    """A size, a name (``batch``), or an expression in parentheses (``(s17 + s77)``, so an ``x`` never joins it)."""
    if isinstance(d, str) and not d.replace("_", "").replace(".", "").isalnum():
        return f"({d})" if not (d.startswith("(") and d.endswith(")")) else d
    return str(d)


@dataclass(slots=True)
class TensorType:
    """Element type and shape of a value; either part may be unknown."""

    dtype: str | None = None
    shape: Shape | None = None
    denotation: str = ""
    # Empty when the file states the shape; otherwise who inferred it ("onnx shape inference",
    # "Keras layer configs", "netray propagation"), shown in the panel beside the shape.
    inferred: str = ""

    def __str__(self) -> str:
        dtype = self.dtype or "?"
        if self.shape is None:
            return dtype
        return f"{dtype}[{shape_text(self.shape)}]"


@dataclass(slots=True)
class Quantization:
    """How stored integers (or packed blocks) stand for real numbers.

    ``scheme`` names the kind:

    * ``"affine"`` (the default): real = scale * (q - zero_point), one scale per tensor,
      or one per slice along ``axis`` (TFLite, ONNX QuantizeLinear, PyTorch).
    * ``"block"``: affine with one scale (and zero point) per ``block_size`` consecutive
      elements along ``axis`` (ONNX ``block_size``, MX formats); ``scale`` may then be
      left empty when the scales are a tensor of their own.
    * a named scheme whose blocks carry their own scales, such as GGUF's ``"q4_0"`` or
      ``"q4_k"`` (``block_size`` elements per block, e.g. 32 or 256), or ``"nf4"``.

    ``details`` holds further facts as typed values (``{"super_block": 256}``).
    """

    scale: Sequence[float] = ()
    zero_point: Sequence[int] = ()
    axis: int | None = None
    min: Sequence[float] = ()
    max: Sequence[float] = ()
    details: Metadata = field(default_factory=dict)
    scheme: str = "affine"
    block_size: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.scheme != "affine":
            parts.append(self.scheme)
        if self.block_size is not None:
            parts.append(f"block={self.block_size}")
        if len(self.scale) == 1:
            parts.append(f"scale={self.scale[0]:.6g}")
        elif self.scale:
            parts.append(f"scale[{len(self.scale)}]")
        if len(self.zero_point) == 1:
            parts.append(f"zero_point={self.zero_point[0]}")
        elif self.zero_point:
            parts.append(f"zero_point[{len(self.zero_point)}]")
        if self.axis is not None:
            parts.append(f"axis={self.axis}")
        parts.extend(f"{k}={v}" for k, v in self.details.items())
        return " ".join(parts)


TensorLoader = Callable[[], np.ndarray]


class Tensor:
    """A constant tensor (weight) whose bytes are read only on request.

    ``dtype`` is the *storage* type, one of the names in :mod:`netray.dtypes`:
    numpy's (``"float32"``, ``"int8"``, ``"bool"``, ``"string"``), ml_dtypes' for what
    numpy lacks (``"bfloat16"``, ``"float8_e4m3fn"``, ``"int4"``) and block formats
    (``"q4_k"``, ``"q8_0"``). ``shape`` is the logical shape in numpy's (row-major)
    order, whatever order the file writes its dimensions in. ``byte_size`` is what
    the stored bytes take in the file (packed: a ``q4_k`` tensor takes 4.5 bits an
    element). ``quantization`` describes block or affine schemes of the storage.

    ``kind`` says how the values are stored: ``"dense"`` (every element, as ``dtype``),
    ``"sparse"`` (only the non-zero values; ``numpy()`` gives what is stored), or
    ``"quantized"`` for formats that store a narrower type and dequantize on reading
    (TF.js uint8 weights): ``dtype`` is then the type ``numpy()`` returns, ``byte_size``
    the stored bytes, and ``quantization`` says how they were stored.

    ``loader`` returns the array; it is called each time :meth:`numpy` is called
    (no caching: a viewer asking twice for a 2 GB tensor should not keep it). What
    :meth:`numpy` returns for each storage type is in :mod:`netray.dtypes`.
    ``location`` says where the bytes live, for the user ("model.onnx @ 1024, 4 MB").
    """

    __slots__ = ("name", "dtype", "shape", "loader", "byte_size", "location", "kind", "metadata", "quantization")

    def __init__(
        self,
        name: str,
        dtype: str | None,
        shape: Shape | None,
        loader: TensorLoader | None = None,
        byte_size: int | None = None,
        location: str = "",
        kind: str = "dense",
        metadata: Metadata | None = None,
        quantization: Quantization | None = None,
    ) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.loader = loader
        self.byte_size = byte_size
        self.location = location
        self.kind = kind
        self.metadata: Metadata = metadata or {}
        self.quantization = quantization

    @property
    def size(self) -> int | None:
        """Number of elements, or None when a dimension is unknown."""
        if self.shape is None:
            return None
        n = 1
        for d in self.shape:
            if not isinstance(d, int):
                return None
            n *= d
        return n

    @property
    def has_data(self) -> bool:
        return self.loader is not None

    def numpy(self) -> np.ndarray:
        """Read the tensor's values. Raises FormatError if the bytes cannot be read."""
        from netray.errors import FormatError

        if self.loader is None:
            raise FormatError(self.location or self.name, "", "this tensor's values are not stored in the file")
        try:
            return self.loader()
        except FormatError:
            raise
        except Exception as exc:  # a loader's failure is a file problem, reported as one line
            raise FormatError(self.location or self.name, "", f"cannot read tensor {self.name!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Tensor({self.name!r}, {self.dtype}, {shape_text(self.shape)})"


def file_slice_loader(
    path: str | Path, offset: int, length: int, dtype: np.dtype[Any] | str, shape: Sequence[int], format: str = ""
) -> TensorLoader:
    """A loader that memory-maps ``length`` bytes at ``offset`` of ``path`` as an array.

    The bounds are checked against the file's size when the tensor is read, so a
    hostile offset yields an error, not a read past the end; the FormatError names
    ``format`` when the plugin gives it.
    """
    path = Path(path)
    np_dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)

    def load() -> np.ndarray:
        from netray.errors import FormatError

        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if offset < 0 or length < 0 or offset + length > size:
                raise FormatError(path, format, f"tensor data at {offset}+{length} lies past the end of the file ({size} bytes)")
            expected = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
            if expected != length:
                raise FormatError(path, format, f"tensor of shape {shape} needs {expected} bytes, the file gives {length}")
            if length == 0:
                return np.zeros(shape, dtype=np_dtype)
            start = offset - offset % mmap.ALLOCATIONGRANULARITY
            mm = mmap.mmap(f.fileno(), length + offset - start, access=mmap.ACCESS_READ, offset=start)
            array = np.frombuffer(mm, dtype=np_dtype, count=length // np_dtype.itemsize, offset=offset - start)
            return array.reshape(shape)

    return load


class AttrKind(str, enum.Enum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    BOOL = "bool"
    INTS = "int[]"
    FLOATS = "float[]"
    STRINGS = "string[]"
    BOOLS = "bool[]"
    TENSOR = "tensor"
    TENSORS = "tensor[]"
    GRAPH = "graph"
    GRAPHS = "graph[]"
    DTYPE = "dtype"
    DTYPES = "dtype[]"
    SHAPE = "shape"
    SHAPES = "shape[]"
    OTHER = "other"


@dataclass(slots=True)
class Attribute:
    """A typed attribute. ``value`` holds a Python value matching ``kind``:
    int, float, str, bool, list of those, Tensor, Graph, a dtype name, a Shape, or
    for OTHER any JSON-like value."""

    name: str
    kind: AttrKind
    value: Any
    doc: str = ""

    @classmethod
    def of(cls, name: str, value: Any, max_text: int | None = None) -> Attribute | None:
        """A typed attribute for a plain Python value, or None for any other kind of value.

        Plain values are bool, int, float (numpy scalars too), str, bytes (shown as
        UTF-8 text, or their size), and lists or tuples of bools, ints, numbers or
        strings. ``max_text`` cuts long strings. Readers call this for what they
        decode from JSON, flatbuffers or pickles and handle the rest themselves.
        """
        if isinstance(value, (bool, np.bool_)):
            return cls(name, AttrKind.BOOL, bool(value))
        if isinstance(value, (int, np.integer)):
            return cls(name, AttrKind.INT, int(value))
        if isinstance(value, (float, np.floating)):
            return cls(name, AttrKind.FLOAT, float(value))
        if isinstance(value, (bytes, bytearray)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                return cls(name, AttrKind.STRING, f"<{len(value)} bytes>")
        if isinstance(value, str):
            if max_text is not None and len(value) > max_text:
                value = value[: max_text - 1] + "…"
            return cls(name, AttrKind.STRING, value)
        if isinstance(value, (list, tuple)):
            items = list(value)
            if items and all(isinstance(v, bool) for v in items):
                return cls(name, AttrKind.BOOLS, items)
            if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
                return cls(name, AttrKind.INTS, items)
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
                return cls(name, AttrKind.FLOATS, [float(v) for v in items])
            if all(isinstance(v, str) for v in items):
                return cls(name, AttrKind.STRINGS, items)
        return None

    def text(self, limit: int = 80) -> str:
        """A short readable rendering of the value."""
        v = self.value
        if self.kind in (AttrKind.TENSOR,):
            return repr(v) if v is not None else "tensor"
        if self.kind is AttrKind.GRAPH:
            return f"graph {getattr(v, 'name', '')}"
        if self.kind is AttrKind.GRAPHS:
            return f"{len(v)} graphs"
        if self.kind in (AttrKind.SHAPE,):
            return shape_text(v)
        if self.kind is AttrKind.FLOAT:
            return f"{v:.6g}"
        if isinstance(v, (list, tuple)):
            items = [shape_text(x) if self.kind is AttrKind.SHAPES else (f"{x:.4g}" if isinstance(x, float) else str(x)) for x in v]
            s = "[" + ", ".join(items) + "]"
        else:
            s = str(v)
        return s if len(s) <= limit else s[: limit - 1] + "…"


@dataclass(slots=True)
class SourceLocation:
    """Where the operation came from in the user's code (from exporters' stack traces)."""

    file: str
    line: int | None = None
    function: str = ""
    stack: str = ""  # the full trace, when the exporter recorded one

    def __str__(self) -> str:
        s = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{s} ({self.function})" if self.function else s


class Value:
    """A tensor flowing between operations (an edge), or a graph input/output/weight."""

    __slots__ = ("name", "type", "initializer", "quantization", "producer", "consumers", "description", "metadata")

    def __init__(
        self,
        name: str,
        type: TensorType | None = None,
        initializer: Tensor | None = None,
        quantization: Quantization | None = None,
        description: str = "",
    ) -> None:
        self.name = name
        self.type = type or TensorType()
        self.initializer = initializer
        self.quantization = quantization
        self.producer: Node | None = None
        self.consumers: list[Node] = []
        self.description = description
        self.metadata: Metadata = {}

    @property
    def is_weight(self) -> bool:
        return self.initializer is not None

    def __repr__(self) -> str:
        return f"Value({self.name!r}, {self.type})"


@dataclass(slots=True)
class Port:
    """A named input or output slot of a node, holding zero or more values.

    An omitted optional input is a port with no values."""

    name: str
    values: list[Value] = field(default_factory=list)


class Node:
    """One operation.

    ``id`` is the node's stable identifier: unique within its model and equal across
    two loads of the same file. The core derives it after a plugin's load by the rule
    of :mod:`netray.ids` (from graph, name, op and order); plugins leave it empty.
    Panels, selection, overlays, diffs and the JSON export refer to nodes by it.
    """

    __slots__ = (
        "id",
        "index",
        "name",
        "op",
        "domain",
        "category",
        "inputs",
        "outputs",
        "attributes",
        "subgraphs",
        "scope",
        "source",
        "metadata",
        "doc",
        "device",
        "control_inputs",
    )

    def __init__(
        self,
        op: str,
        name: str = "",
        domain: str = "",
        inputs: list[Port] | None = None,
        outputs: list[Port] | None = None,
        attributes: list[Attribute] | None = None,
        subgraphs: list[Graph] | None = None,
        scope: tuple[str, ...] = (),
        source: SourceLocation | None = None,
        category: Category | str = Category.OTHER,
        doc: str = "",
    ) -> None:
        self.id = ""  # set by netray.ids.assign_ids once the model is read
        self.index = -1  # position in its graph's node list, set by Graph.add_node
        self.name = name
        self.op = op
        self.domain = domain
        self.category = Category(category) if not isinstance(category, Category) else category
        self.inputs = inputs if inputs is not None else []
        self.outputs = outputs if outputs is not None else []
        self.attributes = attributes if attributes is not None else []
        self.subgraphs = subgraphs if subgraphs is not None else []
        self.scope = scope
        self.source = source
        self.metadata: Metadata = {}
        self.doc = doc
        self.device = ""
        # Nodes that must run before this one with no data flowing (TensorFlow's ^name).
        self.control_inputs: list[Node] = []

    def attribute(self, name: str) -> Attribute | None:
        for a in self.attributes:
            if a.name == name:
                return a
        return None

    def input_values(self) -> Iterator[Value]:
        for port in self.inputs:
            yield from port.values

    def output_values(self) -> Iterator[Value]:
        for port in self.outputs:
            yield from port.values

    def weights(self) -> list[Value]:
        """Inputs that are constants (initializers)."""
        return [v for v in self.input_values() if v.initializer is not None]

    def __repr__(self) -> str:
        return f"Node({self.op!r}, {self.name!r})"


class Graph:
    """Operations and the values between them.

    ``nodes`` is in topological order where one exists. ``values`` maps each name
    to its Value; names are unique within a graph. Call :meth:`link` after
    building to fill producers and consumers.

    ``inferred`` is empty for structure read from the file. A plugin that *infers* a
    graph the file does not store (GGUF holds tensors only; the blocks are deduced
    from their names) says so there, in a sentence the viewer and ``netray info``
    show: "inferred from tensor names; GGUF stores no graph".
    """

    __slots__ = ("name", "inputs", "outputs", "nodes", "values", "kind", "description", "metadata", "inferred")

    def __init__(self, name: str = "", kind: str = "graph") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.values: dict[str, Value] = {}
        # What the graph is to its model: "main" (a top-level graph), "signature" (another entry
        # point of the file, TFLite/TensorFlow), "method" (an ExecuTorch method), "function" (a body
        # called by nodes), "subgraph" (an If/Loop body or any graph held by a node), "delegate" (what
        # a backend runs in place of a node). Shown by the viewer; plugins may use others.
        self.kind = kind
        self.description = ""
        self.metadata: Metadata = {}
        self.inferred = ""

    def value(self, name: str, type: TensorType | None = None) -> Value:
        """The value called ``name``, created on first use."""
        v = self.values.get(name)
        if v is None:
            v = Value(name, type)
            self.values[name] = v
        elif type is not None and v.type.dtype is None and v.type.shape is None:
            v.type = type
        return v

    def add_node(self, node: Node) -> Node:
        node.index = len(self.nodes)
        self.nodes.append(node)
        return node

    def link(self) -> Graph:
        """Fill every value's producer and consumers from the nodes' ports."""
        for v in self.values.values():
            v.producer = None
            v.consumers = []
        for node in self.nodes:
            for port in node.inputs:
                for v in port.values:
                    v.consumers.append(node)
            for port in node.outputs:
                for v in port.values:
                    v.producer = node
        return self

    def weights(self) -> Iterator[Value]:
        return (v for v in self.values.values() if v.initializer is not None)

    def parameter_count(self) -> int:
        return sum(v.initializer.size or 0 for v in self.weights() if v.initializer is not None)

    def walk(self) -> Iterator[Graph]:
        """This graph and every subgraph nested in its nodes, each once, depth first.

        Iterative with a visited set: formats share bodies between many callers
        (TensorFlow functions), and a recursive walk would revisit them on every path.
        """
        seen = {id(self)}
        stack: list[Graph] = [self]
        while stack:
            graph = stack.pop()
            yield graph
            for node in reversed(graph.nodes):
                for sub in reversed(node.subgraphs):
                    if id(sub) not in seen:
                        seen.add(id(sub))
                        stack.append(sub)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.nodes)} nodes)"


class Model:
    """A loaded model file: graphs (main first), named tensors, and what describes them.

    * ``metadata`` is what the file *states* as key/values of its own (ONNX
      ``metadata_props``, GGUF's key/values, safetensors' ``__metadata__``, TFLite
      metadata buffers), typed as the file types them.
    * ``properties`` is what the plugin *derived* or read from the format's structural
      fields (opset details, signature names, counts, a conversion note).
    * ``tensors`` holds named tensors that no graph reaches. A model that is weights
      only (safetensors, GGUF, NumPy archives, state_dicts, checkpoints) has tensors and
      may have no graph at all; :meth:`all_tensors` gives every tensor, in graphs too.
    """

    __slots__ = (
        "format",
        "format_version",
        "producer",
        "producer_version",
        "description",
        "metadata",
        "imports",
        "graphs",
        "functions",
        "source",
        "properties",
        "tensors",
        "_node_ids",
        "__weakref__",  # plugins may keep what they know of a model (a live in-memory source) by weak reference
    )

    def __init__(self, format: str, graphs: list[Graph] | None = None) -> None:
        self.format = format  # family name first: "ONNX", "TFLite", "PyTorch ExportedProgram"
        self.format_version = ""
        self.producer = ""
        self.producer_version = ""
        self.description = ""
        self.metadata: Metadata = {}
        # Operator sets or libraries the model uses: {"ai.onnx": "17"}
        self.imports: dict[str, str] = {}
        self.graphs: list[Graph] = graphs if graphs is not None else []
        self.functions: list[Graph] = []
        self.source: Path | None = None
        # Further format-specific facts shown in the model panel, in order.
        self.properties: Metadata = {}
        self.tensors: dict[str, Tensor] = {}
        self._node_ids: dict[str, Node] | None = None

    @property
    def main(self) -> Graph:
        if not self.graphs:
            raise IndexError("model has no graph (it holds weights only: see Model.tensors)")
        return self.graphs[0]

    @property
    def weights_only(self) -> bool:
        """True for a model with no operations in any top-level graph (safetensors, GGUF without structure, ...)."""
        return not any(g.nodes for g in self.graphs)

    def all_tensors(self) -> Iterator[tuple[str, Tensor]]:
        """Every tensor once, as (name, tensor): the model's named tensors, then graphs' weights."""
        seen: set[int] = set()
        for name, t in self.tensors.items():
            if id(t) not in seen:
                seen.add(id(t))
                yield name, t
        for g in self.all_graphs():
            for v in g.weights():
                weight = v.initializer
                if weight is not None and id(weight) not in seen:
                    seen.add(id(weight))
                    yield v.name, weight

    def node(self, node_id: str) -> Node | None:
        """The node whose stable :attr:`Node.id` is ``node_id``, in any graph; None if there is none."""
        if self._node_ids is None:
            self._node_ids = {n.id: n for g in self.all_graphs() for n in g.nodes if n.id}
        return self._node_ids.get(node_id)

    def all_graphs(self) -> Iterator[Graph]:
        """Every graph, function and nested subgraph, each once."""
        seen: set[int] = set()
        for top in [*self.graphs, *self.functions]:
            for g in top.walk():
                if id(g) not in seen:
                    seen.add(id(g))
                    yield g

    def parameter_count(self) -> int:
        """Elements in every tensor of the model (graphs' weights and named tensors), each counted once."""
        return sum(t.size or 0 for _, t in self.all_tensors())

    def __repr__(self) -> str:
        return f"Model({self.format!r}, {len(self.graphs)} graphs)"
