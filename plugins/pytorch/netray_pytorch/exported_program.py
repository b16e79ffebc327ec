"""ExportedProgram (``torch.export.save``, ``.pt2``) from its serialized JSON graph, without torch.

The archive holds ``<name>/models/<model>.json`` (graph, signature, metadata) and
``<name>/data/weights/`` (raw tensor bytes named by ``<model>_weights_config.json``).
Every JSON node is a ``call_function``; placeholders are the graph's inputs and
the signature says which of them are parameters, buffers or user inputs.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netray import (
    Attribute,
    AttrKind,
    FormatError,
    Graph,
    Model,
    Node,
    Port,
    SourceLocation,
    Tensor,
    TensorType,
    Value,
)
from netray.ir import Dim, TensorLoader
from netray_pytorch.dtypes import itemsize, scalar_type
from netray_pytorch.nested import nested_state_dict
from netray_pytorch.operators import category, split_target
from netray_pytorch.symbolic import symbolic_text
from netray_pytorch.zipstore import open_zip, zip_tensor_loader

FORMAT = "PyTorch ExportedProgram"
_MAX_JSON = 512 * 1024 * 1024

WeightSource = Callable[[str, TensorType, dict[str, Any]], TensorLoader | None]
"""(fully qualified weight name, its type, its tensor_meta) -> loader, or None when absent."""


class _Bad(Exception):
    """A structural problem in the JSON graph; becomes a FormatError naming the file."""


def _dims(sizes: Any) -> tuple[Dim, ...]:
    dims: list[Dim] = []
    for size in sizes or []:
        if isinstance(size, dict) and "as_int" in size:
            dims.append(int(size["as_int"]))
        elif isinstance(size, dict) and "as_expr" in size:
            dims.append(symbolic_text(str(size["as_expr"].get("expr_str", "?"))))
        else:
            dims.append(None)
    return tuple(dims)


def tensor_type(meta: Any) -> TensorType:
    if not isinstance(meta, dict):
        return TensorType()
    return TensorType(scalar_type(meta.get("dtype", 0)), _dims(meta.get("sizes")))


def _location(trace: str) -> SourceLocation | None:
    """The innermost frame of the user's own code in an exporter's stack trace."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', trace or "")
    if not frames:
        return None
    user = [f for f in frames if "/site-packages/torch/" not in f[0] and "/torch/nn/" not in f[0]]
    file, line, function = (user or frames)[-1]
    return SourceLocation(file, int(line), function, stack=trace)


def _scope(stack: str) -> tuple[str, ...]:
    """``nn_module_stack`` ("key,path,type;..."): the deepest module path as a scope."""
    paths = [entry.split(",")[1] for entry in (stack or "").split(";") if entry.count(",") >= 2]
    deepest = next((p for p in reversed(paths) if p), "")
    return tuple(deepest.split(".")) if deepest else ()


def _type_sym_int(value: Value, spec: Any) -> None:
    """A symbolic int (``sym_size``'s output) is a scalar int; its expression (``s77``) is kept."""
    value.type = TensorType("int64", ())
    if isinstance(spec, dict):
        expr = spec.get("as_expr")
        if isinstance(expr, dict) and isinstance(expr.get("expr_str"), str):
            value.metadata["symbolic value"] = symbolic_text(expr["expr_str"])
        elif isinstance(spec.get("as_int"), int):
            value.metadata["symbolic value"] = spec["as_int"]


_SCALAR_KINDS: dict[str, AttrKind] = {
    "as_int": AttrKind.INT, "as_ints": AttrKind.INTS, "as_float": AttrKind.FLOAT, "as_floats": AttrKind.FLOATS,
    "as_bool": AttrKind.BOOL, "as_bools": AttrKind.BOOLS, "as_string": AttrKind.STRING,
    "as_strings": AttrKind.STRINGS, "as_operator": AttrKind.STRING,
}


class _GraphReader:
    """Builds one netray Graph (and nested HOP subgraphs) from a serialized graph."""

    def __init__(self, weights: dict[str, Tensor]) -> None:
        self.weights = weights  # placeholder name -> weight tensor

    def read(self, data: dict[str, Any], name: str, kind: str) -> Graph:
        graph = Graph(name, kind=kind)
        metas = data.get("tensor_values") or {}
        known: set[str] = set()

        def value(tensor_name: Any) -> Value:
            if not isinstance(tensor_name, str):
                raise _Bad(f"a tensor reference is not a name: {tensor_name!r}")
            return graph.value(tensor_name, tensor_type(metas.get(tensor_name)))

        for arg in data.get("inputs") or []:
            for tname in self._tensor_names(arg):
                v = value(tname)
                known.add(tname)
                weight = self.weights.get(tname)
                if weight is not None:
                    v.initializer = weight
                else:
                    graph.inputs.append(v)
        sym_ints = data.get("sym_int_values") or {}
        for sym in sym_ints:
            known.add(sym)  # symbolic sizes are defined by the inputs' shapes
        for index, spec in enumerate(data.get("nodes") or []):
            if not isinstance(spec, dict) or not isinstance(spec.get("target"), str):
                raise _Bad(f"node {index} has no target")
            node = self._node(spec, index, value, known)
            graph.add_node(node)
            for out in node.output_values():
                known.add(out.name)
        for sym, spec in sym_ints.items():
            if isinstance(sym, str) and sym in graph.values:
                _type_sym_int(graph.values[sym], spec)
        for arg in data.get("outputs") or []:
            for tname in self._tensor_names(arg):
                if tname not in known:
                    raise _Bad(f"graph output {tname!r} is produced by no node")
                graph.outputs.append(value(tname))
        return graph.link()

    @staticmethod
    def _tensor_names(arg: Any) -> list[str]:
        """Names of the tensors (and symbolic ints) an Argument refers to."""
        if not isinstance(arg, dict):
            return []
        if "as_tensor" in arg:
            return [arg["as_tensor"].get("name")]
        if "as_tensors" in arg:
            return [t.get("name") for t in arg["as_tensors"]]
        if "as_optional_tensors" in arg:
            return [t["as_tensor"].get("name") for t in arg["as_optional_tensors"] if "as_tensor" in t]
        if "as_optional_tensor" in arg and "as_tensor" in arg["as_optional_tensor"]:
            return [arg["as_optional_tensor"]["as_tensor"].get("name")]
        for key in ("as_sym_int", "as_sym_float", "as_sym_bool"):
            if key in arg and isinstance(arg[key], dict) and "as_name" in arg[key]:
                return [arg[key]["as_name"]]
        for key in ("as_sym_ints", "as_sym_floats", "as_sym_bools"):
            if key in arg:
                return [a["as_name"] for a in arg[key] if isinstance(a, dict) and "as_name" in a]
        return []

    def _node(self, spec: dict[str, Any], index: int, value: Callable[[Any], Value], known: set[str]) -> Node:
        domain, op = split_target(spec["target"])
        meta = spec.get("metadata") or {}
        node = Node(op, name=str(spec.get("name") or f"{op}_{index}"), domain=domain, category=category(op),
                    scope=_scope(meta.get("nn_module_stack", "")), source=_location(meta.get("stack_trace", "")))
        node.metadata["target"] = spec["target"]
        for key in ("torch_fn", "nn_module_stack"):
            if key in meta:
                node.metadata[key] = str(meta[key])
        for position, named in enumerate(spec.get("inputs") or []):
            arg_name = str(named.get("name") or f"arg{position}")
            arg = named.get("arg") or {}
            names = self._tensor_names(arg)
            if names:
                for tname in names:
                    if tname not in known:
                        raise _Bad(f"node {node.name!r} refers to {tname!r}, which no node or input produces")
                node.inputs.append(Port(arg_name, [value(t) for t in names]))
            elif "as_graph" in arg:
                sub = arg["as_graph"]
                node.subgraphs.append(self.read(sub.get("graph") or {}, str(sub.get("name", arg_name)), "subgraph"))
            else:
                node.attributes.append(self._attribute(arg_name, arg))
        for position, arg in enumerate(spec.get("outputs") or []):
            names = self._tensor_names(arg)
            port = Port("output" if position == 0 else f"output{position}", [value(t) for t in names])
            node.outputs.append(port)
        return node

    @staticmethod
    def _attribute(name: str, arg: dict[str, Any]) -> Attribute:
        for key, kind in _SCALAR_KINDS.items():
            if key in arg:
                return Attribute(name, kind, arg[key])
        if "as_sym_int" in arg and "as_int" in (arg["as_sym_int"] or {}):
            return Attribute(name, AttrKind.INT, arg["as_sym_int"]["as_int"])
        if "as_sym_ints" in arg:
            ints = [a.get("as_int", a.get("as_name")) for a in arg["as_sym_ints"]]
            return Attribute(name, AttrKind.INTS if all(isinstance(i, int) for i in ints) else AttrKind.OTHER, ints)
        if "as_scalar_type" in arg:
            return Attribute(name, AttrKind.DTYPE, scalar_type(arg["as_scalar_type"]) or str(arg["as_scalar_type"]))
        if "as_none" in arg:
            return Attribute(name, AttrKind.OTHER, None)
        if "as_device" in arg:
            device = arg["as_device"] or {}
            index = device.get("index")
            return Attribute(name, AttrKind.STRING, str(device.get("type")) + ("" if index is None else f":{index}"))
        key, raw = next(iter(arg.items()), ("", None))
        return Attribute(name, AttrKind.OTHER, raw, doc=key)


def _signature_weights(signature: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """placeholder name -> (fully qualified name, kind) for parameters, buffers and constants."""
    found: dict[str, tuple[str, str]] = {}
    for spec in signature.get("input_specs") or []:
        if not isinstance(spec, dict):
            continue
        for kind, name_key in (("parameter", "parameter_name"), ("buffer", "buffer_name"),
                               ("tensor_constant", "tensor_constant_name"), ("constant_tensor", "tensor_constant_name")):
            entry = spec.get(kind)
            if isinstance(entry, dict):
                arg = entry.get("arg") or {}
                if isinstance(arg.get("name"), str):
                    found[arg["name"]] = (str(entry.get(name_key, arg["name"])), kind)
    return found


def build_model(program: dict[str, Any], weight_source: WeightSource, path: Path | str) -> Model:
    """A Model from the serialized ExportedProgram JSON (a dict) and a source of weight bytes."""
    try:
        module = program["graph_module"]
        graph_data = module["graph"]
        signature = module.get("signature") or {}
        metas = graph_data.get("tensor_values") or {}
        weights: dict[str, Tensor] = {}
        for placeholder, (fqn, kind) in _signature_weights(signature).items():
            ttype = tensor_type(metas.get(placeholder))
            meta = metas.get(placeholder) or {}
            loader = weight_source(fqn, ttype, meta)
            size = itemsize(ttype.dtype or "")
            numel = None if ttype.shape is None or not all(isinstance(d, int) for d in ttype.shape) else 1
            if numel is not None:
                for d in ttype.shape or ():
                    numel *= int(d or 0)
            weights[placeholder] = Tensor(fqn, ttype.dtype, ttype.shape, loader=loader,
                                          byte_size=numel * size if numel is not None and size else None,
                                          location=fqn, metadata={"kind": kind})
        graph = _GraphReader(weights).read(graph_data, "main", "main")
    except _Bad as exc:
        raise FormatError(path, FORMAT, str(exc)) from exc
    except RecursionError as exc:
        raise FormatError(path, FORMAT, "the serialized graph nests too deeply") from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise FormatError(path, FORMAT, f"the serialized graph is malformed ({type(exc).__name__}: {exc})") from exc
    model = Model(FORMAT, [graph])
    version = program.get("schema_version") or {}
    if isinstance(version, dict):
        model.format_version = f"{version.get('major', '?')}.{version.get('minor', '?')}"
    model.producer = "PyTorch"
    model.producer_version = str(program.get("torch_version") or "")
    model.imports = {str(k): str(v) for k, v in (program.get("opset_version") or {}).items()}
    verifiers = program.get("verifiers") or []
    if verifiers:
        model.properties["dialect"] = ", ".join(str(v) for v in verifiers)
    ranges = program.get("range_constraints") or {}
    if isinstance(ranges, dict) and ranges:
        model.properties["symbolic sizes"] = ", ".join(
            f"{symbolic_text(str(name))} in [{r.get('min_val')}, {r.get('max_val')}]"
            for name, r in ranges.items()
            if isinstance(r, dict)
        )
    for k, v in (module.get("metadata") or {}).items():
        model.metadata[str(k)] = str(v)[:200]
    return model


def _find_program(names: list[str]) -> tuple[str, str] | None:
    """(archive prefix, JSON member) of the main model: ``<p>/models/model.json`` first, then
    the pre-2.8 layout's ``serialized_exported_program.json`` (at the root or in one folder)."""
    candidates = [n for n in names if re.fullmatch(r"[^/]+/models/[^/]+\.json", n)]
    candidates.sort(key=lambda n: (not n.endswith("/models/model.json"), n))
    if candidates:
        member = candidates[0]
        return member.split("/", 1)[0] + "/", member
    for name in names:
        if re.fullmatch(r"([^/]+/)?serialized_exported_program\.json", name):
            return name[: -len("serialized_exported_program.json")], name
    return None


def _legacy_weights(path: Path, archive: zipfile.ZipFile, prefix: str) -> WeightSource:
    """Weights of the pre-2.8 layout: torch.save archives stored inside (state dict, constants)."""
    loaders: dict[str, TensorLoader | None] = {}
    for member in ("serialized_state_dict.pt", "serialized_constants.pt"):
        if prefix + member in archive.namelist():
            loaders.update(nested_state_dict(path, archive, prefix + member, FORMAT))
    return lambda fqn, ttype, meta: loaders.get(fqn)


def _archive_weights(path: Path, archive: zipfile.ZipFile, prefix: str, model_name: str, file_size: int) -> WeightSource:
    """Weights from ``data/weights/<model>_weights_config.json`` as lazy zip-member slices."""
    config: dict[str, Any] = {}
    for kind in ("weights", "constants"):
        member = f"{prefix}data/{kind}/{model_name}_{kind}_config.json"
        if member in archive.namelist():
            info = archive.getinfo(member)
            if info.file_size > _MAX_JSON:
                raise FormatError(path, FORMAT, f"{member} is implausibly large")
            entries = (json.loads(archive.read(member)) or {}).get("config") or {}
            for fqn, entry in entries.items():
                config[fqn] = (kind, entry)

    def source(fqn: str, ttype: TensorType, meta: dict[str, Any]) -> TensorLoader | None:
        kind, entry = config.get(fqn, ("", None))
        if not isinstance(entry, dict) or entry.get("use_pickle") or not isinstance(entry.get("path_name"), str):
            return None
        tmeta = entry.get("tensor_meta") or meta
        shape = _dims(tmeta.get("sizes"))
        strides = _dims(tmeta.get("strides"))
        offset = (tmeta.get("storage_offset") or {}).get("as_int", 0)
        if not all(isinstance(d, int) for d in (*shape, *strides)) or not ttype.dtype:
            return None
        return zip_tensor_loader(path, archive, f"{prefix}data/{kind}/{entry['path_name']}", ttype.dtype,
                                 [int(d) for d in shape if d is not None], [int(s) for s in strides if s is not None],
                                 int(offset), file_size)

    return source


def read_pt2(path: Path) -> Model:
    file_size = path.stat().st_size
    archive = open_zip(path, FORMAT)
    with archive:
        names = archive.namelist()
        found = _find_program(names)
        if found is None:
            raise FormatError(path, FORMAT, "the archive has no models/*.json serialized graph")
        prefix, member = found
        info = archive.getinfo(member)
        if info.file_size > _MAX_JSON or info.file_size > file_size * 1000 + 1_000_000:
            raise FormatError(path, FORMAT, f"{member} claims an implausible size")
        try:
            program = json.loads(archive.read(member))
        except (ValueError, RecursionError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise FormatError(path, FORMAT, f"cannot read {member}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(program, dict):
            raise FormatError(path, FORMAT, f"{member} is not a JSON object")
        model_name = member.rsplit("/", 1)[-1][: -len(".json")]
        legacy = model_name == "serialized_exported_program"
        weights = _legacy_weights(path, archive, prefix) if legacy else _archive_weights(path, archive, prefix, model_name, file_size)
        model = build_model(program, weights, path)
        if legacy:
            model.properties["archive layout"] = "torch.export.save before 2.8"
        version = f"{prefix}archive_version"
        if version in names and archive.getinfo(version).file_size < 32:
            model.properties["archive version"] = archive.read(version).decode("ascii", "replace").strip()
        others = sorted({n.rsplit("/", 1)[-1][:-5] for n in names if n.startswith(prefix + "models/") and n.endswith(".json")} - {model_name})
        if others:
            model.properties["other models"] = ", ".join(others)
    return model
