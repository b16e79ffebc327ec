"""MXNet symbol JSON (``*-symbol.json``) -> netray Model.

The JSON lists ``nodes`` in topological order; each has ``op``, ``name``, ``inputs``
(``[node, output]`` or ``[node, output, version]``) and attributes spelled
``attrs`` (1.x), ``attr`` (0.9-0.12) or ``param`` (0.8). Nodes whose op is
``"null"`` are variables: weights when the params file holds them or their name
says so (``*_weight``, ``*_gamma``, ``*_moving_mean`` ...), else graph inputs.
``heads`` are the graph outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from netray import (
    Attribute,
    AttrKind,
    Category,
    FormatError,
    Graph,
    Model,
    Node,
    Port,
    Tensor,
    TensorType,
    Value,
)
from netray_mxnet.operators import lookup
from netray_mxnet.params import DTYPES, ArrayEntry, entry_tensor, read_params

FORMAT = "MXNet"
MAX_SUBGRAPH_DEPTH = 16
WEIGHT_NAME = re.compile(r"(weight|bias|gamma|beta|alpha|moving_\w+|running_\w+)$")
INT_TEXT = re.compile(r"^-?\d+$")
FLOAT_TEXT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$|^-?(inf|nan)$", re.IGNORECASE)
TUPLE_TEXT = re.compile(r"^[(\[]\s*(-?\d+\s*(,\s*-?\d+\s*)*,?)?[)\]]$")
EPOCH_PARAMS = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d+)\.params$")


def symbol_prefix(path: Path) -> str:
    """``det1-symbol.json`` -> ``det1``; ``model.json`` -> ``model``."""
    name = path.name
    for suffix in ("-symbol.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def find_params(symbol_path: Path) -> Path | None:
    """The ``<prefix>-<epoch>.params`` beside a symbol file, latest epoch first."""
    prefix = symbol_prefix(symbol_path)
    best: tuple[int, Path] | None = None
    try:
        candidates = list(symbol_path.parent.glob(f"{glob_escape(prefix)}-*.params"))
    except OSError:
        return None
    for p in candidates:
        m = EPOCH_PARAMS.match(p.name)
        if m and m.group("prefix") == prefix and p.is_file() and in_folder(p, symbol_path.parent):
            epoch = int(m.group("epoch"))
            if best is None or epoch > best[0]:
                best = (epoch, p)
    plain = symbol_path.parent / f"{prefix}.params"
    if best is None and plain.is_file() and in_folder(plain, symbol_path.parent):
        return plain
    return best[1] if best else None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def find_symbol(params_path: Path) -> Path | None:
    """The symbol file a params file belongs to, if it sits beside it."""
    m = EPOCH_PARAMS.match(params_path.name)
    prefix = m.group("prefix") if m else params_path.name.removesuffix(".params")
    candidate = params_path.parent / f"{prefix}-symbol.json"
    return candidate if candidate.is_file() and in_folder(candidate, params_path.parent) else None


def in_folder(path: Path, folder: Path) -> bool:
    """``path`` resolves (symlinks followed) to a file in ``folder`` itself."""
    try:
        return path.resolve().parent == folder.resolve()
    except (OSError, RuntimeError):
        return False


def typed_attribute(name: str, text: Any) -> Attribute:
    """MXNet stores every attribute as a string; give it its natural type."""
    if not isinstance(text, str):
        return Attribute(name, AttrKind.OTHER, text)
    s = text.strip()
    if s in ("True", "False", "true", "false"):
        return Attribute(name, AttrKind.BOOL, s.lower() == "true")
    if INT_TEXT.match(s):
        return Attribute(name, AttrKind.INT, int(s))
    if FLOAT_TEXT.match(s):
        return Attribute(name, AttrKind.FLOAT, float(s))
    if TUPLE_TEXT.match(s):
        inner = s[1:-1].strip().rstrip(",")
        return Attribute(name, AttrKind.INTS, [int(x) for x in inner.split(",")] if inner else [])
    return Attribute(name, AttrKind.STRING, text)


def parse_shape(text: Any) -> tuple[int | None, ...] | None:
    """``"(1, 3, 224, 224)"`` -> a shape; 0 and -1 mean an unknown dimension in MXNet."""
    if not isinstance(text, str) or not TUPLE_TEXT.match(text.strip()):
        return None
    inner = text.strip()[1:-1].strip().rstrip(",")
    dims = [int(x) for x in inner.split(",")] if inner else []
    return tuple(d if d > 0 else None for d in dims)


def node_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """All attribute spellings merged: ``param`` (0.8), ``attr`` (0.9-0.12), ``attrs`` (1.x)."""
    merged: dict[str, Any] = {}
    for key in ("param", "attr", "attrs"):
        part = raw.get(key)
        if isinstance(part, dict):
            merged.update(part)
    return merged


def scope_of(name: str) -> tuple[str, ...]:
    """Scopes only from explicit separators; MXNet's ``stage1_conv0`` prefixes are too weak."""
    for sep in ("/", "."):
        if sep in name:
            return tuple(p for p in name.split(sep)[:-1] if p)
    return ()


def version_text(attrs: Any) -> str:
    """``{"mxnet_version": ["int", 10500]}`` -> ``"1.5.0"``."""
    if not isinstance(attrs, dict):
        return ""
    v = attrs.get("mxnet_version")
    if isinstance(v, list) and len(v) == 2 and isinstance(v[1], int):
        n = v[1]
        return f"{n // 10000}.{n // 100 % 100}.{n % 100}"
    return ""


class SymbolReader:
    """Builds Graphs from symbol JSON, with weights from an optional params file."""

    def __init__(self, path: Path, params_path: Path | None, params: dict[str, ArrayEntry]) -> None:
        self.path = path
        self.params_path = params_path
        self.params = params

    def fail(self, reason: str) -> FormatError:
        return FormatError(self.path, FORMAT, reason)

    def graph(self, doc: Any, name: str, kind: str, depth: int = 0) -> Graph:
        if depth > MAX_SUBGRAPH_DEPTH:
            raise self.fail(f"subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels")
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
            raise self.fail("not an MXNet symbol: no 'nodes' list")
        raw_nodes: list[Any] = doc["nodes"]
        graph = Graph(name, kind=kind)
        # (node index, output index) -> Value; filled as nodes are visited in order.
        outputs: dict[tuple[int, int], Value] = {}
        output_counts = self.output_counts(raw_nodes, doc.get("heads", []))
        for index, raw in enumerate(raw_nodes):
            if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
                raise self.fail(f"node {index} is not an object with an 'op'")
            node_name = str(raw.get("name", f"node{index}"))
            attrs = node_attributes(raw)
            if raw["op"] == "null":
                outputs[(index, 0)] = self.variable(graph, node_name, attrs)
                continue
            node = self.operation(graph, raw, index, node_name, attrs, outputs, depth)
            for k in range(output_counts.get(index, 1)):
                value_name = node_name if k == 0 else f"{node_name}_output{k}"
                if value_name in graph.values:
                    value_name = f"{value_name}#{index}"
                value = graph.value(value_name)
                outputs[(index, k)] = value
                node.outputs.append(Port("output" if k == 0 else f"output{k}", [value]))
            graph.add_node(node)
        for ref in self.refs(doc.get("heads", []), len(raw_nodes), "heads"):
            head = outputs.get(ref)
            if head is not None and head not in graph.outputs:
                graph.outputs.append(head)
        return graph.link()

    def output_counts(self, raw_nodes: list[Any], heads: Any) -> dict[int, int]:
        """How many outputs each node has, from the highest output index anyone reads."""
        counts: dict[int, int] = {}
        refs: list[tuple[int, int]] = []
        for index, raw in enumerate(raw_nodes):
            if isinstance(raw, dict):
                refs.extend(self.refs(raw.get("inputs", []), len(raw_nodes), f"node {index} inputs", before=index))
        refs.extend(self.refs(heads, len(raw_nodes), "heads"))
        for node, out in refs:
            counts[node] = max(counts.get(node, 1), out + 1)
        return counts

    def refs(self, entries: Any, n_nodes: int, where: str, before: int | None = None) -> list[tuple[int, int]]:
        """Validated ``[node, output(, version)]`` entries; forward references mean a cycle."""
        if not isinstance(entries, list):
            raise self.fail(f"{where} is not a list")
        result = []
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) >= 2 and all(isinstance(x, int) for x in entry[:2])):
                raise self.fail(f"{where}: entry {entry!r} is not [node, output]")
            node, out = entry[0], entry[1]
            if not 0 <= node < n_nodes:
                raise self.fail(f"{where}: node index {node} is out of range (0..{n_nodes - 1})")
            if before is not None and node >= before:
                raise self.fail(
                    f"{where}: node index {node} is not before node {before} (a cycle or forward reference)"
                )
            if not 0 <= out < 4096:
                raise self.fail(f"{where}: output index {out} is out of range")
            result.append((node, out))
        return result

    def variable(self, graph: Graph, name: str, attrs: dict[str, Any]) -> Value:
        """A ``null`` node: a weight (with data when the params file has it) or a graph input."""
        dtype_flag = attrs.get("__dtype__")
        dtype = DTYPES.get(int(dtype_flag)) if isinstance(dtype_flag, str) and dtype_flag.isdigit() else None
        shape = parse_shape(attrs.get("__shape__"))
        entry = self.params.get(name)
        if entry is not None and self.params_path is not None:
            value = graph.value(name, TensorType(entry.dtype, entry.shape))
            value.initializer = entry_tensor(self.params_path, name, entry)
        elif WEIGHT_NAME.search(name):
            value = graph.value(name, TensorType(dtype, shape))
            # A weight whose values are not at hand (no params file beside the symbol).
            value.initializer = Tensor(name, dtype, shape, location="not in a params file")
        else:
            value = graph.value(name, TensorType(dtype, shape))
            graph.inputs.append(value)
        value.metadata.update({k: str(v) for k, v in attrs.items()})
        return value

    def operation(
        self,
        graph: Graph,
        raw: dict[str, Any],
        index: int,
        name: str,
        attrs: dict[str, Any],
        outputs: dict[tuple[int, int], Value],
        depth: int,
    ) -> Node:
        op = raw["op"]
        info = lookup(op)
        node = Node(
            op,
            name=name,
            category=info[0] if info else Category.OTHER,
            doc=info[1] if info else "",
            scope=scope_of(name),
            attributes=[typed_attribute(k, v) for k, v in attrs.items()],
        )
        for i, (src, out) in enumerate(
            self.refs(raw.get("inputs", []), index + 1, f"node {index} inputs", before=index)
        ):
            value = outputs.get((src, out)) or outputs.get((src, 0))
            if value is None:
                raise self.fail(f"node {index} reads output {out} of node {src}, which has none")
            node.inputs.append(Port(self.port_name(name, value, i), [value]))
        subgraphs = raw.get("subgraphs")
        if isinstance(subgraphs, list):
            for k, sub in enumerate(subgraphs):
                node.subgraphs.append(self.graph(sub, f"{name}/subgraph{k}", "subgraph", depth + 1))
        return node

    @staticmethod
    def port_name(node_name: str, value: Value, i: int) -> str:
        """``conv1_weight`` feeding ``conv1`` is its ``weight`` input; other weights by their suffix; the rest data."""
        if value.name.startswith(node_name + "_"):
            return value.name[len(node_name) + 1 :]
        suffix = WEIGHT_NAME.search(value.name) if value.initializer is not None else None
        if suffix is not None:
            return suffix.group(1)
        return "data" if i == 0 else f"data{i}"


def load_json(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (ValueError, RecursionError) as exc:
        raise FormatError(path, FORMAT, f"not valid JSON: {str(exc).splitlines()[0][:200]}") from exc
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read file: {exc.strerror or exc}") from exc


def load_symbol(path: Path, params_path: Path | None = None) -> Model:
    """Read a symbol JSON file, and the params file beside it when there is one."""
    doc = load_json(path)
    if params_path is None:
        params_path = find_params(path)
    params = read_params(params_path) if params_path is not None else {}
    reader = SymbolReader(path, params_path, params)
    graph = reader.graph(doc, symbol_prefix(path), "main")
    model = Model(FORMAT, [graph])
    model.producer = "MXNet"
    model.format_version = version_text(doc.get("attrs"))
    legacy = any(isinstance(n, dict) and "param" in n for n in doc["nodes"])
    model.properties["symbol schema"] = "legacy 0.8 (param, backward_source_id)" if legacy else "nnvm (attrs)"
    model.properties["params file"] = params_path.name if params_path else "none beside the symbol"
    if params:
        used = sum(1 for v in graph.values.values() if v.initializer is not None and v.initializer.has_data)
        model.properties["arrays in params"] = f"{len(params)} ({used} used by the graph)"
    return model


def load_params_only(path: Path) -> Model:
    """A params file opened on its own: its symbol when it sits beside it, else the weights alone."""
    symbol = find_symbol(path)
    note = "no -symbol.json beside the params file: weights only"
    if symbol is not None:
        try:
            model = load_symbol(symbol, path)
        except FormatError as exc:
            note = f"{symbol.name} beside it not read ({exc.reason}): weights only"
        else:
            model.properties["opened from"] = f"{path.name}, the weights of {symbol.name}"
            return model
    params = read_params(path)
    model = Model(FORMAT)  # weights only: the tensors, by their names
    for name, entry in params.items():
        model.tensors[name] = entry_tensor(path, name, entry)
    model.producer = "MXNet"
    model.properties["params file"] = path.name
    model.properties["symbol"] = note
    return model
