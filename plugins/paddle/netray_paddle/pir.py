"""A PIR program (Paddle 3's ``inference.json``, written by ``paddle.jit.save``) as netray graphs.

The JSON (Paddle's pir/serialize_deserialize) nests regions, blocks and ops. Op names carry
a dialect number (``1.conv2d``: ``pd_op.conv2d``; ``0.`` builtin, ``2.`` control flow);
``p`` is a compressed ``builtin.parameter`` whose ``A`` is ``[is_distributed, is_parameter,
need_clip, name]``. Values are numbered (``%``); block arguments negatively. Operands are
unnamed: common ops get their ops.yaml names (operators.PIR_INPUTS).

Parameters become weights of their consumers, read lazily from the ``.pdiparams`` beside
the program (sorted by name); ``full``/``full_int_array`` constants become small weights
computed from their attributes; ``data`` and ``fetch``/``shadow_output`` are the graph's
inputs and outputs; ``yield`` gives a block's outputs; regions of ``if``/``while`` become
subgraphs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import netray
from netray import Attribute, AttrKind, Graph, Model, Node, Port, Tensor, TensorType, Value
from netray.dtypes import numpy_dtype
from netray_paddle.dtypes import PHI_DTYPES, PIR_DTYPES
from netray_paddle.formats import PIR
from netray_paddle.operators import PIR_INPUTS, PIR_OUTPUTS, category
from netray_paddle.weights import Weights, bind

JSON_LIMIT = 1 << 30
MAX_DEPTH = 64
DIALECTS = {"0": "builtin", "1": "pd_op", "2": "cf", "3": "custom_op", "4": "dist_op"}
PLACES = {0: "undefined", 1: "cpu", 2: "gpu", 3: "gpu_pinned", 4: "xpu", 7: "ipu", 9: "custom"}
CONSTANT_LIMIT = 1 << 16  # constants with more elements than this stay ops


class PirError(ValueError):
    """The JSON is not shaped like a PIR program (turned into a FormatError)."""


def _dict(x: Any, what: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise PirError(f"{what} is not an object")
    return x


def _list(x: Any, what: str) -> list[Any]:
    if x is None:
        return []
    if not isinstance(x, list):
        raise PirError(f"{what} is not a list")
    return x


def split_name(name: str) -> tuple[str, str]:
    """``"1.conv2d"`` -> (``"pd_op"``, ``"conv2d"``); ``"pd_op.conv2d"`` -> the same."""
    dialect, dot, op = name.partition(".")
    if not dot:
        return "", name
    return DIALECTS.get(dialect, dialect), op


def value_type(tt: Any) -> TensorType:
    """A value's ``TT`` object as a TensorType."""
    if not isinstance(tt, dict):
        return TensorType()
    kind = str(tt.get("#", ""))
    data = tt.get("D")
    _, short = split_name(kind)
    if short in PIR_DTYPES:
        return TensorType(PIR_DTYPES[short], ())
    if (
        isinstance(data, list)
        and data
        and isinstance(data[0], dict)
        and short in ("t_dtensor", "t_dtensor_array", "t_selected_rows")
    ):
        element = value_type(data[0])
        dims = data[1] if len(data) > 1 and isinstance(data[1], list) else None
        shape = None if dims is None else tuple(None if not isinstance(d, int) or d < 0 else d for d in dims)
        denotation = "" if short == "t_dtensor" else short[2:]
        return TensorType(element.dtype, shape, denotation)
    if short == "t_vec":
        return TensorType(None, None, "vector")
    return TensorType(None, None, short or "")


def attribute_value(at: Any, depth: int = 0) -> Any:
    """A JSON attribute (``{"#": "0.a_i32", "D": 1}``) as a plain Python value."""
    if not isinstance(at, dict) or depth > MAX_DEPTH:
        return None
    _, kind = split_name(str(at.get("#", "")))
    data = at.get("D")
    if kind == "a_array":
        return [attribute_value(item, depth + 1) for item in _list(data, "array attribute")]
    if kind == "a_place" and isinstance(data, list) and data:
        place = PLACES.get(data[0], str(data[0])) if isinstance(data[0], int) else str(data[0])
        return place if len(data) < 2 or not data[1] else f"{place}:{data[1]}"
    if kind == "a_scalar" and isinstance(data, list) and len(data) >= 2:
        return data[1] if len(data) == 2 else data[1:]
    if kind == "a_type":
        return str(value_type(data))
    if kind in ("a_c64", "a_c128") and isinstance(data, list) and len(data) == 2:
        return f"{data[0]}+{data[1]}j"
    return data


def _attribute(name: str, at: Any) -> Attribute | None:
    _, kind = split_name(str(at.get("#", ""))) if isinstance(at, dict) else ("", "")
    value = attribute_value(at)
    if kind == "a_dtype" and isinstance(value, str):
        return Attribute(name, AttrKind.DTYPE, PHI_DTYPES.get(value, value))
    made = Attribute.of(name, value, max_text=2000)
    if made is None and value is not None:
        made = Attribute(name, AttrKind.STRING, json.dumps(value)[:2000])
    return made


def _attributes(op: dict[str, Any]) -> dict[str, Any]:
    """The op's ``A`` list as name -> raw attribute object."""
    out: dict[str, Any] = {}
    for item in _list(op.get("A"), "attributes"):
        if isinstance(item, dict) and isinstance(item.get("N"), str):
            out[item["N"]] = item.get("AT")
    return out


def _persistable(op: dict[str, Any]) -> bool:
    """The op's result attributes (``OA``) mark its result persistable (a stored variable)."""
    for item in op.get("OA") or []:
        if isinstance(item, dict) and item.get("N") == "persistable":
            value = attribute_value(item.get("AT"))
            return bool(value[0]) if isinstance(value, list) and value else bool(value)
    return False


def _constant(op_name: str, attrs: dict[str, Any]) -> np.ndarray | None:
    """The value of a ``full`` or ``full_int_array`` op, computed from its attributes."""
    dtype = attribute_value(attrs.get("dtype"))
    np_dtype = numpy_dtype(PHI_DTYPES.get(str(dtype), "")) if dtype else None
    if np_dtype is None:
        return None
    if op_name == "full_int_array":
        values = attribute_value(attrs.get("value"))
        if (
            isinstance(values, list)
            and len(values) <= CONSTANT_LIMIT
            and all(isinstance(v, (int, float)) for v in values)
        ):
            return np.asarray(values, dtype=np_dtype)
        return None
    shape = attribute_value(attrs.get("shape"))
    value = attribute_value(attrs.get("value"))
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
        or not isinstance(value, (int, float))
    ):
        return None
    if int(np.prod(shape, dtype=np.int64)) > CONSTANT_LIMIT:
        return None
    return np.full(tuple(shape), value, dtype=np_dtype)


class _Builder:
    def __init__(self, weights: Weights, path: Path) -> None:
        self.weights = weights
        self.path = path
        self.parameters: list[str] = []
        # builtin.combine packs values into one vector operand (of concat, stack ...): the op that
        # reads the vector gets the packed values in one port instead of a combine box.
        self.vectors: dict[int, list[Value]] = {}

    def block(self, block: dict[str, Any], name: str, kind: str, outer: list[dict[int, Value]], depth: int) -> Graph:
        if depth > MAX_DEPTH:
            raise PirError(f"regions nested deeper than {MAX_DEPTH}")
        graph = Graph(name, kind)
        values: dict[int, Value] = {}
        scopes = [values, *outer]

        def define(vid: Any, vname: str, tt: Any) -> Value:
            if not isinstance(vid, int):
                raise PirError(f"value id {vid!r} is not a number")
            if vname in graph.values:
                vname = f"{vname}#{vid}"
            value = graph.value(vname, value_type(tt))
            values[vid] = value
            return value

        def use(vid: Any) -> Value | None:
            if not isinstance(vid, int):
                raise PirError(f"operand {vid!r} is not a value id")
            if vid == 0:
                return None  # a null operand (an omitted optional input)
            for scope in scopes:
                if vid in scope:
                    found = scope[vid]
                    if scope is values:
                        return found
                    packed = self.vectors.get(id(found))
                    if packed is not None:  # a combined vector from an enclosing block: capture what it packs
                        placeholder = Value(found.name, found.type)
                        self.vectors[id(placeholder)] = [capture(v) for v in packed]
                        values[vid] = placeholder
                        return placeholder
                    values[vid] = capture(found)
                    return values[vid]
            raise PirError(f"value %{vid} is used but never defined")

        def capture(found: Value) -> Value:
            """An enclosing block's value, as an input of this graph (a weight stays a weight)."""
            captured = graph.values.get(found.name)
            if captured is None:
                captured = graph.value(found.name, found.type)
                captured.initializer = found.initializer
                if found.initializer is None:
                    graph.inputs.append(captured)
            return captured

        for arg in _list(block.get("args"), "block arguments"):
            arg = _dict(arg, "block argument")
            vid = arg.get("#")
            graph.inputs.append(define(vid, f"%arg{abs(vid) if isinstance(vid, int) else vid}", arg.get("TT")))
        for raw in _list(block.get("ops"), "ops"):
            op = _dict(raw, "op")
            self.op(op, graph, define, use, scopes, depth)
        return graph.link()

    def op(
        self, op: dict[str, Any], graph: Graph, define: Any, use: Any, scopes: list[dict[int, Value]], depth: int
    ) -> None:
        ident = str(op.get("#", ""))
        if ident == "p" or ident in ("0.parameter", "builtin.parameter"):
            self.parameter(op, define)
            return
        dialect, name = split_name(ident)
        attrs = _attributes(op)
        operands = [use(_dict(o, "operand").get("%", o.get("#"))) for o in _list(op.get("I"), "operands")]
        results = _list(op.get("O"), "results")
        if name == "combine" and dialect == "builtin" and len(results) == 1:
            r = _dict(results[0], "result")
            vector = define(r.get("%"), f"%{r.get('%')}", r.get("TT"))
            graph.values.pop(vector.name, None)  # no edge of its own: readers get the packed values
            self.vectors[id(vector)] = [v for v in operands if v is not None]
            return
        if name in ("data", "feed") and dialect == "pd_op":
            label = attribute_value(attrs.get("name"))
            if _persistable(op) and isinstance(label, str) and len(results) == 1:
                # a persistable data variable is stored with the parameters (Paddle's get_pir_parameters)
                r = _dict(results[0], "result")
                self.stored(define(r.get("%"), label, r.get("TT")))
                return
            for r in results:
                r = _dict(r, "result")
                graph.inputs.append(define(r.get("%"), str(label or f"%{r.get('%')}"), r.get("TT")))
            return
        if name in ("fetch", "shadow_output") or name == "yield":
            label = attribute_value(attrs.get("name") if name == "fetch" else attrs.get("output_name"))
            if isinstance(label, str) and label and len(operands) == 1 and operands[0] is not None:
                self.rename(graph, operands[0], label)
            for value in operands:
                if value is not None and value not in graph.outputs:
                    graph.outputs.append(value)
            for r in results:  # fetch's own result is the same tensor under the fetch name
                r = _dict(r, "result")
                if isinstance(r.get("%"), int) and operands and operands[0] is not None:
                    scopes[0][r["%"]] = operands[0]
            return
        if name in ("full", "full_int_array") and dialect == "pd_op" and not operands and len(results) == 1:
            array = _constant(name, attrs)
            if array is not None:
                r = _dict(results[0], "result")
                value = define(r.get("%"), f"%{r.get('%')}", r.get("TT"))
                frozen = array.copy()
                value.initializer = Tensor(
                    value.name,
                    PHI_DTYPES.get(str(attribute_value(attrs.get("dtype")))),  # the values' type, as computed
                    tuple(frozen.shape),
                    lambda: frozen,
                    int(frozen.nbytes),
                    location=f"{name} op",
                )
                value.initializer.metadata["op"] = name
                return
        in_names = PIR_INPUTS.get(name, ())
        inputs = []
        for k, value in enumerate(operands):
            port = in_names[k] if k < len(in_names) else ("x" if len(operands) == 1 else f"input{k}")
            packed = self.vectors.get(id(value)) if value is not None else None
            inputs.append(Port(port, packed if packed is not None else [value] if value is not None else []))
        out_names = PIR_OUTPUTS.get(name, ())
        outputs = []
        for k, r in enumerate(results):
            r = _dict(r, "result")
            port = out_names[k] if k < len(out_names) else ("out" if len(results) == 1 else f"out{k}")
            vid = r.get("%")
            if vid == 0 or vid is None:  # a null result
                outputs.append(Port(port, []))
                continue
            outputs.append(Port(port, [define(vid, f"%{vid}", r.get("TT"))]))
        # struct_name (the Python layer's path) is the node's scope, not an attribute of the op.
        attributes = [a for a in (_attribute(k, v) for k, v in attrs.items() if k != "struct_name") if a is not None]
        subgraphs = []
        for r_index, region in enumerate(_list(op.get("regions"), "regions")):
            region = _dict(region, "region")
            for b_index, block in enumerate(_list(region.get("blocks"), "blocks")):
                label = {("if", 0): "true", ("if", 1): "false", ("while", 0): "body"}.get(
                    (name, r_index), f"region {r_index}"
                )
                sub_name = label if b_index == 0 else f"{label} block {b_index}"
                subgraphs.append(self.block(_dict(block, "block"), sub_name, "subgraph", scopes, depth + 1))
        if subgraphs:
            attributes.append(Attribute("regions", AttrKind.GRAPHS, subgraphs))
        struct = attribute_value(attrs.get("struct_name"))
        scope = tuple(p for p in struct.split("/") if p) if isinstance(struct, str) else ()
        first = next((v.name for p in outputs for v in p.values), "")
        node = Node(
            name,
            first,
            domain=dialect,
            inputs=inputs,
            outputs=outputs,
            attributes=attributes,
            subgraphs=subgraphs,
            category=category(name),
            scope=scope,
        )
        graph.add_node(node)

    @staticmethod
    def rename(graph: Graph, value: Value, name: str) -> None:
        """Give an output the name its fetch states, in place of its value number."""
        if not value.name.startswith("%") or name in graph.values or graph.values.get(value.name) is not value:
            return
        del graph.values[value.name]
        value.name = name
        graph.values[name] = value

    def parameter(self, op: dict[str, Any], define: Any) -> None:
        attrs = op.get("A")
        result = op.get("O")
        if isinstance(result, list):
            result = result[0] if result else None
        result = _dict(result, "parameter result")
        if isinstance(attrs, list) and attrs and isinstance(attrs[-1], str):
            name = attrs[-1]  # the compressed form: [is_distributed, is_parameter, need_clip, name]
        else:
            name = str(attribute_value(_attributes(op).get("parameter_name")) or f"%{result.get('%')}")
        self.stored(define(result.get("%"), name, result.get("TT")))

    def stored(self, value: Value) -> None:
        """Make ``value`` a weight read from the parameters file (or one marked as not stored)."""
        name = value.name
        self.parameters.append(name)
        tensor = self.weights.by_name.get(name)
        if tensor is None:
            shape = value.type.shape
            tensor = Tensor(
                name,
                value.type.dtype,
                shape if shape is not None and None not in shape else None,
                None,
                location=self.weights.note,
            )
        value.initializer = tensor


def read_json(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > JSON_LIMIT:
            raise netray.FormatError(path, PIR, f"a {size:,}-byte program is larger than any PIR program")
        document = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise netray.FormatError(path, PIR, f"not valid JSON: {exc}") from None
    except OSError as exc:
        raise netray.FormatError(path, PIR, f"cannot read the file: {exc.strerror or exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("program"), dict):
        raise netray.FormatError(path, PIR, 'no "program" object: not a PIR program')
    return document


def parameter_names(document: dict[str, Any]) -> list[str]:
    """Names of what the parameters file stores, in program order: parameter ops and persistable data
    variables (Paddle's get_pir_parameters), found anywhere in the program without recursion."""
    names: list[str] = []
    stack: list[Any] = [document.get("program")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ident = item.get("#")
            if ident == "p" and isinstance(item.get("A"), list) and item["A"] and isinstance(item["A"][-1], str):
                names.append(item["A"][-1])
            elif ident in ("0.parameter", "builtin.parameter"):
                found = attribute_value(_attributes(item).get("parameter_name"))
                if isinstance(found, str):
                    names.append(found)
            elif ident in ("1.data", "pd_op.data") and _persistable(item):
                found = attribute_value(_attributes(item).get("name"))
                if isinstance(found, str):
                    names.append(found)
            stack.extend(reversed([v for k, v in item.items() if k in ("regions", "blocks", "ops")]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return list(dict.fromkeys(names))


def load_pir(path: Path) -> Model:
    document = read_json(path)
    names = parameter_names(document)
    weights = bind(path, sorted(names), names, {}, PIR)
    builder = _Builder(weights, path)
    try:
        regions = _list(document["program"].get("regions"), "regions")
        if not regions:
            raise PirError("the program has no regions")
        top = _dict(regions[0], "region")
        blocks = _list(top.get("blocks"), "blocks")
        if not blocks:
            raise PirError("the program's region has no blocks")
        main = builder.block(_dict(blocks[0], "block"), "main", "main", [], 0)
    except PirError as exc:
        raise netray.FormatError(path, PIR, str(exc)) from None
    except RecursionError:
        raise netray.FormatError(path, PIR, "regions nested too deeply") from None
    model = Model(PIR, [main])
    model.tensors.update(weights.unnamed)
    base = document.get("base_code")
    if isinstance(base, dict):
        if isinstance(base.get("version"), int):
            model.format_version = f"version {base['version']}"
        for key in ("magic", "trainable", "version"):
            if isinstance(base.get(key), (bool, int, str)):
                model.metadata[f"base_code.{key}"] = base[key]
    model.producer = "PaddlePaddle"
    model.properties["parameters"] = len(names)
    model.properties["weights"] = weights.note or "no parameters file beside the program: weights not stored"
    return model
