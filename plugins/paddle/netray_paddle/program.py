"""A ProgramDesc (``.pdmodel``, ``__model__``) as netray graphs.

Block 0 is the main graph; blocks named by ``sub_block`` / ``blocks`` attributes (``while``,
``conditional_block``) become subgraphs of their op. ``feed`` and ``fetch`` ops become the
graph's inputs and outputs. Persistable variables are weights of the ops that read them,
their values read lazily from the parameters beside the program. Paddle ops may write a
variable they or others already wrote (``batch_norm``'s MeanOut, a loop's outputs): each
write is a new version of the variable (``x``, ``x#1``) so edges follow the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

import netray
from netray import Attribute, AttrKind, Graph, Model, Node, Port, Tensor, TensorType, Value
from netray_paddle.dtypes import VAR_DTYPES
from netray_paddle.formats import PROGRAM
from netray_paddle.operators import category
from netray_paddle.proto import ATTR_TYPES, VAR_TYPES, ProgramDesc
from netray_paddle.weights import Weights, bind

MAX_DEPTH = 64  # nested sub-blocks deeper than this are not followed
SKIPPED_ATTRS = frozenset({"op_callstack"})  # Python stack traces of the exporting script
# Bookkeeping attributes every op carries, hidden at these values (Netron hides them too).
TRIVIAL_ATTRS: dict[str, tuple[object, ...]] = {
    "op_device": ("",),
    "op_namescope": ("/", ""),
    "op_role": (0,),
    "op_role_var": ([],),
    "with_quant_attr": (False,),
}
NOT_WEIGHTS = frozenset({"FEED_MINIBATCH", "FETCH_LIST", "READER", "RAW", "STEP_SCOPES", "FEED_LIST"})


def text(value: Any) -> str:
    """A proto2 string as str: protobuf hands back bytes where the file's bytes are not UTF-8."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def texts(values: Any) -> list[str]:
    return [text(v) for v in values]


def read_program(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise netray.FormatError(path, PROGRAM, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        program = ProgramDesc.FromString(data)
    except (DecodeError, RecursionError) as exc:
        raise netray.FormatError(path, PROGRAM, f"not a ProgramDesc: {exc}") from None
    if not len(program.blocks):
        raise netray.FormatError(path, PROGRAM, "the program has no blocks")
    return program


def var_type(var: Any) -> TensorType:
    """dtype and shape of a VarDesc (-1 dimensions unknown)."""
    t = var.type
    kind = VAR_TYPES.get(t.type, str(t.type))
    desc = None
    if t.HasField("dense_tensor"):
        desc = t.dense_tensor.tensor
    elif t.HasField("tensor_array"):
        desc = t.tensor_array.tensor
    elif t.HasField("selected_rows"):
        desc = t.selected_rows
    if desc is None:
        return TensorType(None, None, denotation=kind.lower())
    dims = tuple(None if d < 0 else int(d) for d in desc.dims)
    denotation = "" if kind in ("DENSE_TENSOR", "LOD_TENSOR") else kind.lower()
    return TensorType(VAR_DTYPES.get(desc.data_type), dims, denotation)


def persistable_names(program: Any) -> list[str]:
    """Persistable tensor variables of every block, in program order, each once."""
    seen: dict[str, None] = {}
    for block in program.blocks:
        for var in block.vars:
            if var.persistable and VAR_TYPES.get(var.type.type) not in NOT_WEIGHTS:
                seen.setdefault(text(var.name), None)
    return list(seen)


def _scalar(s: Any) -> Any:
    kinds = {1: "b", 2: "i", 3: "r"}
    if s.type in kinds:
        return getattr(s, kinds[s.type])
    return f"{s.c.r}+{s.c.i}j"


class _Builder:
    def __init__(self, program: Any, weights: Weights, path: Path) -> None:
        self.program = program
        self.weights = weights
        self.path = path
        self.blocks = list(program.blocks)
        self.vars: list[dict[str, Any]] = [{text(v.name): v for v in b.vars} for b in self.blocks]

    def find_var(self, block: int, name: str) -> Any:
        seen = set()
        while 0 <= block < len(self.blocks) and block not in seen:
            seen.add(block)
            var = self.vars[block].get(name)
            if var is not None:
                return var
            block = self.blocks[block].parent_idx
        return None

    def attribute(self, attr: Any, block: int, chain: tuple[int, ...]) -> tuple[Attribute | None, list[Graph]]:
        kind = ATTR_TYPES.get(attr.type, "")
        if kind == "BLOCK":
            sub = self.subgraph(attr.block_idx, chain)
            return (
                (Attribute(attr.name, AttrKind.GRAPH, sub), [sub])
                if sub is not None
                else (Attribute.of(attr.name, attr.block_idx), [])
            )
        if kind == "BLOCKS":
            subs = [g for g in (self.subgraph(i, chain) for i in attr.blocks_idx) if g is not None]
            return Attribute(text(attr.name), AttrKind.GRAPHS, subs), subs
        value: Any = {
            "INT": lambda: attr.i,
            "FLOAT": lambda: attr.f,
            "STRING": lambda: attr.s,
            "INTS": lambda: list(attr.ints),
            "FLOATS": lambda: list(attr.floats),
            "STRINGS": lambda: list(attr.strings),
            "BOOLEAN": lambda: attr.b,
            "BOOLEANS": lambda: list(attr.bools),
            "LONG": lambda: attr.l,
            "LONGS": lambda: list(attr.longs),
            "FLOAT64S": lambda: list(attr.float64s),
            "VAR": lambda: attr.var_name,
            "VARS": lambda: list(attr.vars_name),
            "FLOAT64": lambda: attr.float64,
            "SCALAR": lambda: _scalar(attr.scalar),
            "SCALARS": lambda: [_scalar(s) for s in attr.scalars],
        }.get(kind, lambda: None)()
        if kind == "INT" and attr.name in ("dtype", "in_dtype", "out_dtype"):  # VarType numbers
            return Attribute(text(attr.name), AttrKind.DTYPE, VAR_DTYPES.get(value, str(value))), []
        return Attribute.of(text(attr.name), value, max_text=2000), []

    def subgraph(self, index: int, chain: tuple[int, ...]) -> Graph | None:
        if not 0 <= index < len(self.blocks) or index in chain or len(chain) > MAX_DEPTH:
            return None  # a block that does not exist, or a cycle of blocks: shown as the index only
        return self.graph(index, (*chain, index))

    def graph(self, index: int, chain: tuple[int, ...]) -> Graph:
        block = self.blocks[index]
        graph = Graph("main" if index == 0 else f"block {index}", "main" if index == 0 else "subgraph")
        current: dict[str, Value] = {}
        writes: dict[str, int] = {}
        written: dict[str, None] = {}  # names this block writes, in order

        def typed(name: str) -> TensorType:
            var = self.find_var(index, name)
            return var_type(var) if var is not None else TensorType()

        def read(name: str) -> Value:
            value = current.get(name)
            if value is not None:
                return value
            value = graph.value(name, typed(name))
            var = self.find_var(index, name)
            tensor = self.weights.by_name.get(name)
            if tensor is not None:
                value.initializer = tensor
            elif var is not None and var.persistable and VAR_TYPES.get(var.type.type) not in NOT_WEIGHTS:
                t = value.type
                value.initializer = Tensor(
                    name,
                    t.dtype,
                    t.shape if t.shape and None not in t.shape else None,
                    None,
                    location=self.weights.note,
                )
            elif name not in self.vars[index] or index == 0:
                graph.inputs.append(value)  # from an enclosing block, or never written
            current[name] = value
            writes.setdefault(name, 1)
            return value

        def write(name: str, writer: str) -> Value:
            count = writes.get(name, 0)
            versioned = name if count == 0 else f"{name}#{count}"
            while versioned in graph.values:
                count += 1
                versioned = f"{name}#{count}"
            writes[name] = count + 1
            written.setdefault(name, None)
            value = graph.value(versioned, typed(name))
            if versioned != name:
                value.metadata["variable"] = name
                value.description = f"variable {name!r} as written by {writer}"
            current[name] = value
            return value

        for op in block.ops:
            op_type = text(op.type)
            if op_type == "feed":
                for var in op.outputs:
                    for name in texts(var.arguments):
                        graph.inputs.append(write(name, "feed"))
                continue
            if op_type == "fetch":
                for var in op.inputs:
                    for name in texts(var.arguments):
                        value = read(name)
                        if value not in graph.outputs:
                            graph.outputs.append(value)
                continue
            inputs = [Port(text(var.parameter), [read(name) for name in texts(var.arguments)]) for var in op.inputs]
            attributes: list[Attribute] = []
            subgraphs: list[Graph] = []
            for attr in op.attrs:
                if attr.name in SKIPPED_ATTRS:
                    continue
                made, subs = self.attribute(attr, index, chain)
                if made is not None and made.value in TRIVIAL_ATTRS.get(made.name, ()):
                    continue
                if made is not None:
                    attributes.append(made)
                subgraphs += subs
            first = next((name for var in op.outputs for name in texts(var.arguments)), "")
            outputs = [
                Port(text(var.parameter), [write(name, op_type) for name in texts(var.arguments)]) for var in op.outputs
            ]
            namescope = next((text(a.s) for a in op.attrs if a.name == "op_namescope"), "")
            node = Node(
                op_type,
                first,
                inputs=inputs,
                outputs=outputs,
                attributes=attributes,
                subgraphs=subgraphs,
                category=category(op_type),
                scope=tuple(p for p in namescope.split("/") if p),
            )
            if op.is_target:
                node.metadata["is_target"] = True
            graph.add_node(node)
        if index != 0:  # what the block writes to variables of enclosing blocks are its outputs
            graph.outputs += [current[name] for name in written if name not in self.vars[index]]
        return graph.link()


def load_program(path: Path) -> Model:
    program = read_program(path)
    names = persistable_names(program)
    builder_vars = {text(v.name): v for b in program.blocks for v in b.vars}
    shapes = {n: _int_shape(var_type(builder_vars[n]).shape) for n in names}
    weights = bind(path, sorted(names), names, shapes, PROGRAM)
    builder = _Builder(program, weights, path)
    main = builder.graph(0, (0,))
    model = Model(PROGRAM, [main])
    model.tensors.update(weights.unnamed)
    if program.HasField("version"):
        version = int(program.version.version)
        model.format_version = "ProgramDesc"
        model.metadata["version"] = version
        if version >= 1000000:  # Paddle writes its own version as MAJOR*1e6 + MINOR*1e3 + PATCH
            model.producer = "PaddlePaddle"
            model.producer_version = f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000}"
    else:
        model.format_version = "ProgramDesc"
    model.properties["blocks"] = len(program.blocks)
    model.properties["persistable variables"] = len(names)
    model.properties["weights"] = weights.note or "no parameters file beside the program: weights not stored"
    if len(program.op_version_map.pair):
        model.metadata["op_version_map"] = [
            f"{text(p.op_name)}={p.op_version.version}" for p in program.op_version_map.pair
        ]
    return model


def _int_shape(shape: tuple[int | str | None, ...] | None) -> tuple[int | None, ...] | None:
    """A variable's shape for matching parameter headers: named dimensions count as unknown."""
    if shape is None:
        return None
    return tuple(d if isinstance(d, int) else None for d in shape)
