"""ML Program (MIL) models as netray graphs: one graph per function, one node per operation.

A ``Program`` holds functions (``main`` first); a function's body is the block of its opset in
``block_specializations``. Operations name their inputs by parameter (``x``, ``weight``,
``bias``) bound to values by name; nested blocks (``cond``, ``while_loop``) become subgraphs.

``const`` operations are no boxes: their value becomes a weight of each consumer, on the port of
the parameter it binds, read lazily from ``weights/weight.bin`` (blob.py) or from the proto's
immediate value. Small non-float constants and float scalars (``strides``, ``pad_type``,
``axes``, ``epsilon``) become attributes of their consumer instead, named after the parameter:
they are settings, not weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from netray import Attribute, AttrKind, FormatError, Graph, Metadata, Node, Port, Tensor, TensorType, Value, dtypes
from netray_coreml.bits import as_dtype, define_dtypes, unpack
from netray_coreml.blob import BlobFile
from netray_coreml.implicit import capture
from netray_coreml.operators import MIL_DOMAIN, category
from netray_coreml.package import inside

define_dtypes()

MIL_DTYPES = {
    "BOOL": "bool",
    "STRING": "string",
    "FLOAT8E4M3FN": "float8_e4m3fn",
    "FLOAT8E5M2": "float8_e5m2",
    "FLOAT16": "float16",
    "FLOAT32": "float32",
    "FLOAT64": "float64",
    "BFLOAT16": "bfloat16",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "INT4": "int4",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "UINT4": "uint4",
    "UINT2": "uint2",
    "UINT1": "uint1",
    "UINT6": "uint6",
    "UINT3": "uint3",
}
SMALL_SETTING = 16  # non-float constants with at most this many elements are attributes
MAX_NESTING = 32
MODEL_PATH = "@model_path/"


def _enum_name(message: Any, field_name: str) -> str:
    enum = message.DESCRIPTOR.fields_by_name[field_name].enum_type
    item = enum.values_by_number.get(getattr(message, field_name))
    return item.name if item is not None else str(getattr(message, field_name))


def value_type(value_type_message: Any) -> TensorType:
    """A MIL ``ValueType`` as a netray type (lists, tuples, dicts and states by denotation)."""
    kind = value_type_message.WhichOneof("type")
    if kind == "tensorType":
        tensor = value_type_message.tensorType
        dtype = MIL_DTYPES.get(_enum_name(tensor, "dataType"))
        if tensor.rank < 0:
            return TensorType(dtype, None)
        dims: list[int | str | None] = []
        for dim in tensor.dimensions:
            which = dim.WhichOneof("dimension")
            if which == "constant":
                dims.append(int(dim.constant.size))
            else:
                dims.append("*" if which == "unknown" and dim.unknown.variadic else None)
        if len(dims) < tensor.rank:
            dims += [None] * (int(tensor.rank) - len(dims))
        return TensorType(dtype, tuple(dims))
    if kind == "stateType":
        inner = value_type(value_type_message.stateType.wrappedType)
        return TensorType(inner.dtype, inner.shape, "state")
    if kind == "listType":
        inner = value_type(value_type_message.listType.type)
        return TensorType(None, None, f"list<{inner}>")
    if kind == "tupleType":
        return TensorType(
            None, None, f"tuple<{', '.join(str(value_type(t)) for t in value_type_message.tupleType.types)}>"
        )
    if kind == "dictionaryType":
        key = value_type(value_type_message.dictionaryType.keyType)
        item = value_type(value_type_message.dictionaryType.valueType)
        return TensorType(None, None, f"dict<{key}, {item}>")
    return TensorType()


def _fixed(shape: tuple[int | str | None, ...] | None) -> tuple[int, ...]:
    """A shape known to be all sizes (its count is known), as ints; named or unknown dims count as 1."""
    return tuple(d if isinstance(d, int) else 1 for d in shape or ())


def _count(shape: tuple[Any, ...] | None) -> int | None:
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64))


def _immediate_list(tensor_value: Any) -> tuple[str, Any] | None:
    kind = tensor_value.WhichOneof("value")
    if kind is None:
        return None
    return kind, getattr(tensor_value, kind).values


def _immediate_array(tensor_value: Any, dtype: str | None, shape: tuple[int, ...]) -> np.ndarray:
    """An immediate tensor's values as the array ``Tensor.numpy()`` gives for ``dtype``."""
    found = _immediate_list(tensor_value)
    if found is None:
        return np.zeros(shape, dtype=np.float32)
    kind, values = found
    count = int(np.prod(shape, dtype=np.int64))
    if kind == "bytes":  # raw little-endian storage of dtype (fp16, int8, sub-byte ...)
        raw = np.frombuffer(values, dtype=np.uint8)
        info = dtypes.lookup(dtype)
        bits = int(info.bits) if info is not None else 8
        if bits < 8:
            return as_dtype(
                unpack(raw, bits, count, lsb_first=True), dtype or "uint8", 4 if dtype == "int4" else 0
            ).reshape(shape)
        target = dtypes.numpy_dtype(dtype) or np.uint8
        return raw[: count * np.dtype(target).itemsize].view(target).reshape(shape)
    if kind == "strings":
        return np.array(list(values), dtype=object).reshape(shape)
    array = np.array(list(values))
    target = dtypes.numpy_dtype(dtype)
    if target is not None and target != np.dtype(object):
        array = array.astype(target)
    return array.reshape(shape)


def _python_value(tensor_value: Any, dtype: str | None, shape: tuple[Any, ...] | None) -> Any:
    """A small immediate tensor as a plain Python value (scalar or list), for an attribute."""
    found = _immediate_list(tensor_value)
    if found is None:
        return None
    kind, values = found
    if kind == "bytes":
        return f"<{len(values)} bytes>"
    items: list[Any] = list(values)
    if dtype == "bool":
        items = [bool(v) for v in items]
    elif kind in ("ints", "longInts"):
        items = [int(v) for v in items]
    elif kind in ("floats", "doubles"):
        items = [float(v) for v in items]
    return items[0] if shape == () and len(items) == 1 else items


def _plain_immediate(immediate: Any, depth: int = 0) -> Any:
    """A tuple, list or dictionary immediate value as plain Python data (bounded in depth and size)."""
    which = immediate.WhichOneof("value")
    if depth > 8 or which is None:
        return None
    if which == "tensor":
        return _python_value(immediate.tensor, None, None)
    if which == "dictionary":
        out: dict[str, Any] = {}
        for pair in list(immediate.dictionary.values)[:256]:
            key = _plain_immediate(pair.key.immediateValue, depth + 1)
            key = key[0] if isinstance(key, list) and len(key) == 1 else key
            value = _plain_immediate(pair.value.immediateValue, depth + 1)
            out[str(key)] = value[0] if isinstance(value, list) and len(value) == 1 else value
        return out
    items = getattr(immediate, which).values  # tuple or list
    return [_plain_immediate(item.immediateValue, depth + 1) for item in list(items)[:256]]


@dataclass
class Constant:
    """A const's value: a lazy tensor, or (small) a plain value for an attribute."""

    type: TensorType
    tensor: Tensor | None = None
    setting: Any = None
    is_setting: bool = False
    source: Any = None  # a setting's immediate TensorValue, for when it is used as a tensor after all


@dataclass
class Context:
    """What reading one program needs: the model's folder (for weight files) and the open ones."""

    model_dir: Path
    format: str
    location: str  # the model file, for errors
    shown: str = "model.mlmodel"  # its name, for tensor locations
    blob_files: dict[str, BlobFile | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    operations: int = 0

    def close(self) -> None:
        for blob_file in self.blob_files.values():
            if blob_file is not None:
                blob_file.close()

    def blob_file(self, name: str) -> tuple[BlobFile | None, str]:
        """The open weight file a const names, or None (missing: the note says so); and its shown name."""
        relative = name[len(MODEL_PATH) :] if name.startswith(MODEL_PATH) else name
        if relative in self.blob_files:
            return self.blob_files[relative], relative
        path = inside(self.model_dir, relative)
        if path is None:
            raise FormatError(self.location, self.format, f"a weight file path {name!r} leaves the model's folder")
        if not path.is_file():
            self.notes[f"missing weights {relative}"] = "not found beside the model: its weights are not stored"
            self.blob_files[relative] = None
            return None, relative
        blob_file = BlobFile(path, self.format)
        self.blob_files[relative] = blob_file
        return blob_file, relative


def constant(ctx: Context, value: Any, name: str, declared: TensorType | None = None) -> Constant:
    """A MIL ``Value`` (a const's ``val``, an inline argument, an attribute) as a Constant."""
    tensor_type = value_type(value.type) if value.HasField("type") else (declared or TensorType())
    if declared is not None and declared.shape is not None and tensor_type.shape is None:
        tensor_type = declared
    kind = value.WhichOneof("value")
    shape = tensor_type.shape
    count = _count(shape)
    if kind == "blobFileValue":
        return Constant(tensor_type, _blob_tensor(ctx, value.blobFileValue, name, tensor_type))
    if kind != "immediateValue":
        return Constant(tensor_type, Tensor(name, tensor_type.dtype, shape, None, None, "no value stored"))
    immediate = value.immediateValue
    which = immediate.WhichOneof("value")
    if which != "tensor":
        return Constant(tensor_type, setting=_plain_immediate(immediate), is_setting=True)
    found = _immediate_list(immediate.tensor)
    stored = 0 if found is None else len(found[1])
    dtype = tensor_type.dtype
    is_float = dtype is not None and dtype.startswith(("float", "bfloat"))
    if count is not None and (dtype in ("string", "bool") or not is_float or shape == ()) and count <= SMALL_SETTING:
        if found is not None and found[0] == "bytes":  # fp16 / int8 scalars are stored as raw bytes
            array = _immediate_array(immediate.tensor, dtype, _fixed(shape))
            setting: Any = array.tolist()
        else:
            setting = _python_value(immediate.tensor, dtype, shape)
        return Constant(tensor_type, setting=setting, is_setting=True, source=immediate.tensor)
    if count is None or (found is not None and found[0] != "bytes" and stored != count):
        shape, count = (stored,), stored
    fixed: tuple[int, ...] = _fixed(shape)
    tensor_value = immediate.tensor
    size = dtypes.byte_size(dtype, count) if dtype != "string" else None
    tensor = Tensor(
        name, dtype, fixed, lambda: _immediate_array(tensor_value, dtype, fixed), size, f"{ctx.shown} (immediate value)"
    )
    return Constant(TensorType(dtype, fixed), tensor)


def _blob_tensor(ctx: Context, blob_value: Any, name: str, tensor_type: TensorType) -> Tensor:
    blob_file, shown = ctx.blob_file(blob_value.fileName)
    shape = tensor_type.shape
    count = _count(shape)
    offset = int(blob_value.offset)
    if blob_file is None:
        return Tensor(
            name,
            tensor_type.dtype,
            shape,
            None,
            dtypes.byte_size(tensor_type.dtype, count),
            f"{shown} @ {offset} (file missing)",
        )
    blob = blob_file.blob(offset, f"const {name!r}")
    if count is None:
        shape, count = (blob.count,), blob.count
    if blob.count != count:
        raise FormatError(
            blob_file.path,
            ctx.format,
            f"const {name!r} is {tensor_type}, {count:,} values; its blob at offset {offset} holds {blob.count:,} {blob.dtype} values",
        )
    fixed = _fixed(shape)
    location = f"{shown} @ {blob.data_offset}, {blob.size:,} bytes"
    return Tensor(name, blob.dtype, fixed, blob_file.loader(blob, fixed), dtypes.byte_size(blob.dtype, count), location)


def value_attribute(ctx: Context, name: str, value: Any, owner: str) -> Attribute | Tensor:
    """An operation's attribute Value: a plain attribute, or a tensor when it is a weight."""
    const = constant(ctx, value, f"{owner}/{name}")
    if const.tensor is not None:
        return const.tensor
    attribute = Attribute.of(name, const.setting)
    return attribute if attribute is not None else Attribute(name, AttrKind.OTHER, const.setting)


def _setting_tensor(name: str, const: Constant, location: str) -> Tensor:
    dtype, shape, source = const.type.dtype, const.type.shape, const.source
    count = _count(shape)
    if source is None or count is None:
        return Tensor(name, dtype, shape, None, None, f"{location} (immediate {const.setting})")
    fixed = _fixed(shape)
    size = dtypes.byte_size(dtype, count) if dtype != "string" else None
    return Tensor(
        name, dtype, fixed, lambda: _immediate_array(source, dtype, fixed), size, f"{location} (immediate value)"
    )


# Operation inputs are a protobuf map, whose order the file does not keep: the data first,
# then the weights, then settings; other names alphabetically after them.
_PARAMETERS = (
    "x",
    "y",
    "input",
    "values",
    "data",
    "indices",
    "pred",
    "loop_vars",
    "lut",
    "weight",
    "bias",
    "scale",
    "offset",
    "zero_point",
    "gamma",
    "beta",
    "mean",
    "variance",
    "pad_type",
    "pad",
    "strides",
    "dilations",
    "groups",
    "axes",
    "axis",
    "keep_dims",
    "shape",
    "perm",
)
_PARAMETER_RANK = {name: k for k, name in enumerate(_PARAMETERS)}


def _parameter_order(item: tuple[str, Any]) -> tuple[int, str]:
    return _PARAMETER_RANK.get(item[0], len(_PARAMETER_RANK)), item[0]


class BlockReader:
    """Fills graphs from MIL blocks; ``constants`` are visible to nested blocks."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def read(self, graph: Graph, block: Any, outer: Mapping[str, Constant], depth: int = 0) -> None:
        if depth > MAX_NESTING:
            raise FormatError(self.ctx.location, self.ctx.format, f"blocks nested deeper than {MAX_NESTING} levels")
        constants: dict[str, Constant] = dict(outer)
        for item in block.inputs:
            graph.inputs.append(self._typed(graph, item.name, value_type(item.type)))
        for operation in block.operations:
            self.ctx.operations += 1
            if operation.type == "const" and len(operation.outputs) == 1 and "val" in operation.attributes:
                output = operation.outputs[0]
                constants[output.name] = constant(
                    self.ctx, operation.attributes["val"], output.name, value_type(output.type)
                )
                continue
            graph.add_node(self._operation(graph, operation, constants, depth))
        for name in block.outputs:
            graph.outputs.append(self._reference(graph, name, constants))

    def _typed(self, graph: Graph, name: str, tensor_type: TensorType) -> Value:
        value = graph.value(name, tensor_type)
        if value.type.dtype is None and value.type.shape is None:
            value.type = tensor_type
        return value

    def _reference(self, graph: Graph, name: str, constants: Mapping[str, Constant]) -> Value:
        """The value a binding names; a const's becomes a weight (its tensor, or its setting as one)."""
        value = graph.value(name)
        const = constants.get(name)
        if const is not None and value.initializer is None:
            if const.tensor is None:  # a setting used as a tensor (a block output): give it one
                const.tensor = _setting_tensor(name, const, self.ctx.shown)
            value.initializer = const.tensor
            value.type = TensorType(const.tensor.dtype, const.tensor.shape)
        return value

    def _operation(self, graph: Graph, operation: Any, constants: Mapping[str, Constant], depth: int) -> Node:
        name_value = operation.attributes.get("name") if "name" in operation.attributes else None
        node_name = ""
        if name_value is not None:
            shown = constant(self.ctx, name_value, "name").setting
            node_name = shown if isinstance(shown, str) else ""
        if not node_name and operation.outputs:
            node_name = operation.outputs[0].name
        inputs: list[Port] = []
        attributes: list[Attribute] = []
        for parameter, argument in sorted(operation.inputs.items(), key=_parameter_order):
            values: list[Value] = []
            bindings = list(argument.arguments)
            for k, binding in enumerate(bindings):
                which = binding.WhichOneof("binding")
                if which == "name":
                    const = constants.get(binding.name)
                    if const is not None and const.is_setting and len(bindings) == 1:
                        attribute = Attribute.of(parameter, const.setting)
                        attributes.append(attribute or Attribute(parameter, AttrKind.OTHER, const.setting))
                        continue
                    values.append(self._reference(graph, binding.name, constants))
                elif which == "value":
                    inline = constant(
                        self.ctx, binding.value, f"{node_name}/{parameter}" + (f"[{k}]" if len(bindings) > 1 else "")
                    )
                    if inline.is_setting and len(bindings) == 1:
                        attributes.append(
                            Attribute.of(parameter, inline.setting)
                            or Attribute(parameter, AttrKind.OTHER, inline.setting)
                        )
                        continue
                    if inline.tensor is not None:
                        weight = graph.value(inline.tensor.name, TensorType(inline.tensor.dtype, inline.tensor.shape))
                        weight.initializer = inline.tensor
                        values.append(weight)
            if values or not attributes or attributes[-1].name != parameter:
                inputs.append(Port(parameter, values))
        for key, value in sorted(operation.attributes.items()):
            if key == "name":
                continue
            found = value_attribute(self.ctx, key, value, node_name)
            if isinstance(found, Tensor):
                weight = graph.value(found.name, TensorType(found.dtype, found.shape))
                weight.initializer = found
                inputs.append(Port(key, [weight]))
            else:
                attributes.append(found)
        outputs = [
            Port(
                "output" if len(operation.outputs) == 1 else f"output{k}",
                [self._typed(graph, item.name, value_type(item.type))],
            )
            for k, item in enumerate(operation.outputs)
        ]
        subgraphs = []
        for k, block in enumerate(operation.blocks):
            sub = Graph(f"{node_name}/block{k}", "subgraph")
            self.read(sub, block, constants, depth + 1)
            sub.link()
            subgraphs.append(sub)
        captured = capture(graph, subgraphs)
        if captured is not None:
            inputs.append(captured)
        return Node(
            operation.type,
            node_name,
            MIL_DOMAIN,
            inputs,
            outputs,
            attributes,
            subgraphs,
            category=category(MIL_DOMAIN, operation.type),
        )


def _function_block(function: Any) -> tuple[Any, str, list[str]]:
    """The block a function runs (its opset's specialization) and the names of the others."""
    names = sorted(function.block_specializations.keys())
    chosen = function.opset if function.opset in function.block_specializations else (names[0] if names else "")
    if not chosen:
        return None, "", []
    return function.block_specializations[chosen], chosen, [n for n in names if n != chosen]


def read_program(program: Any, ctx: Context, default_function: str = "") -> tuple[list[Graph], Metadata]:
    """One graph per function (the default or ``main`` first) and facts about the program."""
    names = list(program.functions.keys())
    first = (
        default_function if default_function in names else ("main" if "main" in names else (names[0] if names else ""))
    )
    ordered = [first, *sorted(n for n in names if n != first)] if first else []
    reader = BlockReader(ctx)
    graphs: list[Graph] = []
    facts: Metadata = {"MIL program version": int(program.version), "functions": ordered}
    if program.docString:
        facts["program doc"] = program.docString
    for key, value in sorted(program.attributes.items()):
        found = value_attribute(ctx, key, value, "program")
        if isinstance(found, Attribute) and isinstance(found.value, (str, int, float, bool)):
            facts[f"program {key}"] = found.value
        elif isinstance(found, Attribute) and isinstance(found.value, dict):  # buildInfo: component versions
            for item, text in found.value.items():
                facts[f"program {key} {item}"] = str(text)
    try:
        for name in ordered:
            function = program.functions[name]
            graph = Graph(name, "main" if not graphs else "function")
            for item in function.inputs:
                graph.inputs.append(reader._typed(graph, item.name, value_type(item.type)))
            block, opset, others = _function_block(function)
            graph.metadata["opset"] = opset
            if others:
                graph.metadata["other specializations"] = others
            if block is not None:
                reader.read(graph, block, {})
            graph.link()
            graphs.append(graph)
    finally:
        ctx.close()
    return graphs, facts
