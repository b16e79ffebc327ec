"""Builds a netray Model from a .pte file: one graph per execution plan, one box per instruction.

* Values are the plan's EValues, named ``%index`` (a tensor's fully qualified name when the
  file gives one). Tensors become edges typed by scalar type and sizes; ints, doubles,
  bools, strings and lists become the attributes of the boxes that read them.
* A KernelCall box is titled by its operator (``aten::convolution.out``); its arguments
  are named from the operator's schema (:mod:`schemas`), so a convolution reads
  ``input``, ``weight``, ``bias`` and has ``stride``, ``padding`` as attributes.
* A DelegateCall box is titled by its backend (``XnnpackBackend``), holds the processed
  data as a weight and, for XNNPACK, the subgraph it runs (:mod:`xnnpack`).
* Constant tensors are lazy weights from the constant segment (or the inline constant
  buffer of files written before September 2024); mutable buffers get their initial
  state from the mutable data segments. Every location is checked against the file.
* Methods that run no instruction and return constants (ExecuTorch's "constant
  methods", such as ``get_vocab_size``) are the file's metadata.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netray import (
    Attribute,
    FormatError,
    Graph,
    MetaValue,
    Model,
    Node,
    Port,
    SourceLocation,
    Tensor,
    TensorType,
    Value,
)
from netray.dtypes import numpy_dtype
from netray_executorch import xnnpack
from netray_executorch.formats import FORMAT
from netray_executorch.operators import category
from netray_executorch.program import (
    SHAPE_DYNAMISM,
    BadProgram,
    Chain,
    Delegate,
    EValue,
    Instruction,
    Plan,
    Program,
    TensorInfo,
    read_program,
)
from netray_executorch.schemas import SCHEMAS

# ScalarType (schema/scalar_type.fbs, c10's numbering) -> netray dtype name.
SCALAR_TYPES = {
    0: "uint8",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "int64",
    5: "float16",
    6: "float32",
    7: "float64",
    8: "complex32",
    9: "complex64",
    10: "complex128",
    11: "bool",
    12: "int8",  # QINT8: the values of a quantized tensor; scales travel as operator arguments
    13: "uint8",  # QUINT8
    14: "int32",  # QINT32
    15: "bfloat16",
    16: "quint4x2",
    17: "quint2x4",
    18: "bits1x8",
    19: "bits2x4",
    20: "bits4x2",
    21: "bits8",
    22: "uint16",  # BITS16: 16 bits of no numeric meaning
    23: "float8_e5m2",
    24: "float8_e4m3fn",
    25: "float8_e5m2fnuz",
    26: "float8_e4m3fnuz",
    27: "uint16",
    28: "uint32",
    29: "uint64",
}
SCALAR_TYPE_NAMES = {12: "QInt8", 13: "QUInt8", 14: "QInt32", 22: "Bits16"}
PLAIN_KINDS = {"int": "int64", "double": "float64", "bool": "bool", "string": "string"}
MAX_METADATA_ITEMS = 64


def read_pte(path: Path) -> Model:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the file: {exc.strerror}") from None
    if size < 8:
        raise FormatError(path, FORMAT, f"the file has {size} bytes, too few for an ExecuTorch program")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        try:
            program = read_program(buf, size)
        except BadProgram as exc:
            raise FormatError(path, FORMAT, str(exc)) from None
        return _Builder(path, buf, size, program).build()


@dataclass
class _Segment:
    position: int
    size: int


class _Builder:
    """Turns a decoded Program into a Model, checking every location it hands to a loader."""

    def __init__(self, path: Path, buf: Any, size: int, program: Program) -> None:
        self.path = path
        self.buf = buf
        self.size = size
        self.program = program
        self.segments = self._segments()
        self.named = self._named_data()
        self.used_named: set[str] = set()

    def fail(self, message: str) -> FormatError:
        return FormatError(self.path, FORMAT, message)

    # -- where data lies -----------------------------------------------------------------
    def _segments(self) -> list[_Segment]:
        program = self.program
        if not program.segments:
            return []
        if program.header is None:
            if any(length for _, length in program.segments):  # empty segments need no base (older writers list them)
                raise self.fail(f"the program lists {len(program.segments)} segments but has no extended header giving their base offset")
            return [_Segment(0, 0) for _ in program.segments]
        base = program.header.segment_base_offset
        out = []
        for k, (offset, length) in enumerate(program.segments):
            position = base + offset
            if position + length > self.size:
                raise self.fail(
                    f"segment {k} at {position:,}+{length:,} lies past the end of the file ({self.size:,} bytes): the file is truncated"
                )
            out.append(_Segment(position, length))
        return out

    def _segment(self, index: int, what: str) -> _Segment:
        if not 0 <= index < len(self.segments):
            raise self.fail(f"{what} refers to segment {index}; the file has {len(self.segments)}")
        return self.segments[index]

    def _named_data(self) -> dict[str, tuple[int, int]]:
        named = {}
        for key, index in self.program.named_data:
            segment = self._segment(index, f"named data {key!r}")
            named[key] = (segment.position, segment.size)
        return named

    def _constant_location(self, info: TensorInfo, nbytes: int, what: str) -> tuple[int, str]:
        """(file position, description) of a tensor's stored data, checked to hold ``nbytes``."""
        program, index = self.program, info.data_buffer_idx
        if program.constant_buffer:
            if index >= len(program.constant_buffer):
                raise self.fail(f"{what} refers to constant buffer {index}; the program has {len(program.constant_buffer)}")
            position, available = program.constant_buffer[index]
            where = f"constant buffer {index}"
        else:
            if info.allocated:
                if not program.mutable_data_segments:
                    raise self.fail(f"{what} has an initial state but the program has no mutable data segments")
                table = info.mutable_data_segments_idx
                if table >= len(program.mutable_data_segments):
                    raise self.fail(f"{what} refers to mutable data segment table {table}; the program has {len(program.mutable_data_segments)}")
                segment_index, offsets = program.mutable_data_segments[table]
                where = f"mutable data {index}"
            else:
                if program.constant_segment is None:
                    raise self.fail(f"{what} refers to constant {index} but the program has no constant data")
                segment_index, offsets = program.constant_segment
                where = f"constant {index}"
            if index >= len(offsets):
                raise self.fail(f"{what} refers to {where}; the program lists {len(offsets)}")
            segment = self._segment(segment_index, what)
            if offsets[index] > segment.size:
                raise self.fail(f"{what}: {where} at offset {offsets[index]:,} lies past its segment ({segment.size:,} bytes)")
            position, available = segment.position + offsets[index], segment.size - offsets[index]
        if nbytes > available:
            raise self.fail(f"{what} needs {nbytes:,} bytes but {where} holds {available:,}")
        return position, f"{where} @ {position:,}, {nbytes:,} bytes"

    # -- the model -----------------------------------------------------------------------
    def build(self) -> Model:
        program = self.program
        plans = sorted(program.plans, key=lambda p: p.name != "forward")  # forward first, the rest in file order
        model = Model(FORMAT)
        model.source = self.path
        model.format_version = "ET12" if program.version == 0 else f"ET12, schema version {program.version}"
        for plan in plans:
            constant = _constant_method(plan)
            if constant is not None:
                model.metadata[plan.name] = constant
                continue
            model.graphs.append(_PlanBuilder(self, plan, "main" if not model.graphs else "method").build())
        for key, (position, length) in self.named.items():
            if key not in self.used_named:
                loader = _loader(self.path, position, length, "uint8", (length,), list(range(1)))
                model.tensors[key] = Tensor(key, "uint8", (length,), loader, length, location=f"named data @ {position:,}, {length:,} bytes")
        model.properties.update(self._properties(plans))
        return model

    def _properties(self, plans: list[Plan]) -> dict[str, MetaValue]:
        program = self.program
        props: dict[str, MetaValue] = {"schema": "ET12", "schema version": program.version}
        header = program.header
        if header is not None:
            props["program size"] = header.program_size
            props["segment base offset"] = header.segment_base_offset
            props["segment data size"] = header.segment_data_size
        else:
            props["extended header"] = "none (the flatbuffer is the whole file)"
        props["methods"] = [p.name for p in plans]
        props["segments"] = len(program.segments)
        if program.constant_buffer:
            props["constant storage"] = f"inline constant_buffer ({len(program.constant_buffer)} buffers; written before ExecuTorch 0.4)"
        elif program.constant_segment is not None and program.constant_segment[1]:
            props["constant storage"] = f"constant segment {program.constant_segment[0]} ({len(program.constant_segment[1]) - 1} tensors)"
        if program.mutable_data_segments:
            props["mutable data segments"] = len(program.mutable_data_segments)
        delegates = [d.id for p in plans for d in p.delegates]
        if delegates:
            props["delegates"] = [f"{name} ×{delegates.count(name)}" for name in dict.fromkeys(delegates)]
        operators = sorted({_op_name(o) for p in plans for o in p.operators})
        if operators:
            props["operators"] = [*operators[:MAX_METADATA_ITEMS]]
        if program.named_data:
            props["named data"] = [f"{key}: {self.named[key][1]:,} bytes" for key, _ in program.named_data[:MAX_METADATA_ITEMS]]
        return props


def _op_name(operator: tuple[str, str]) -> str:
    name, overload = operator
    return f"{name}.{overload}" if overload else name


def _constant_method(plan: Plan) -> MetaValue | None:
    """The value a method returns without running anything (a "constant method"), or None."""
    if any(chain.instructions for chain in plan.chains) or plan.inputs or not plan.outputs:
        return None
    out: list[MetaValue] = []
    for index in plan.outputs:
        if not 0 <= index < len(plan.values):
            return None
        value = plan.values[index]
        if value.kind in ("int", "double", "bool", "string"):
            out.append(value.value)
        elif value.kind in ("double_list", "bool_list"):
            out.append(list(value.value))
        elif value.kind == "int_list":
            items = [plan.values[i].value for i in value.value if 0 <= i < len(plan.values) and plan.values[i].kind == "int"]
            out.append(items)  # type: ignore[arg-type]
        else:
            return None
    return out[0] if len(out) == 1 else out


def _loader(path: Path, position: int, length: int, dtype: str, shape: tuple[int, ...], dim_order: list[int]) -> Any:
    """A lazy loader of a stored tensor: the bytes in memory order, transposed to the logical shape."""
    np_dtype = numpy_dtype(dtype)
    if np_dtype is None:
        return None
    stored_dtype = np_dtype.newbyteorder("<") if np_dtype.kind in "iufc" else np_dtype
    natural = list(range(len(shape)))
    order = dim_order if sorted(dim_order) == natural else natural
    stored_shape = tuple(shape[d] for d in order)

    def load() -> np.ndarray:
        from netray import file_slice_loader

        array = file_slice_loader(path, position, length, stored_dtype, stored_shape, FORMAT)()
        if order != natural:
            array = np.transpose(array, np.argsort(order))
        return array

    return load


class _PlanBuilder:
    """One execution plan as a Graph."""

    def __init__(self, owner: _Builder, plan: Plan, kind: str) -> None:
        self.owner = owner
        self.plan = plan
        self.graph = Graph(plan.name, kind)
        self.made: dict[int, Value] = {}
        self.produced: set[int] = set()
        for chain in plan.chains:
            for instruction in chain.instructions:
                self.produced.update(self._writes(instruction))
        self.produced.update(plan.inputs)
        self.defined: set[int] = set(plan.inputs)  # values written so far, while the nodes are built in order
        self.written: set[int] = set(plan.inputs)  # indices whose Value already has a producer (or is an input)

    def fail(self, message: str) -> FormatError:
        return self.owner.fail(f"method {self.plan.name!r}: {message}")

    def evalue(self, index: int, what: str) -> EValue:
        if not 0 <= index < len(self.plan.values):
            raise self.fail(f"{what} refers to value {index}; the method has {len(self.plan.values)}")
        return self.plan.values[index]

    # -- values --------------------------------------------------------------------------
    def value(self, index: int, what: str) -> Value:
        """The netray Value of EValue ``index``: a typed edge, a weight where the tensor is stored."""
        found = self.made.get(index)
        if found is not None:
            return found
        ev = self.evalue(index, what)
        if ev.kind == "tensor":
            value = self._tensor_value(index, ev.value)
        else:
            dtype = PLAIN_KINDS.get(ev.kind)
            shape: tuple[int, ...] | None = () if dtype else None
            if ev.kind in ("int_list", "double_list", "bool_list"):
                dtype, shape = {"int_list": "int64", "double_list": "float64", "bool_list": "bool"}[ev.kind], (len(ev.value),)
            value = self.graph.value(f"%{index}", TensorType(dtype, shape))
            value.metadata["kind"] = ev.kind
            plain = self._plain(index, what)
            if plain is not None and index not in self.produced:
                value.metadata["value"] = plain
        self.made[index] = value
        return value

    def output(self, index: int, what: str, writer: str) -> Value:
        """The value an instruction writes: a new version when the index was written before (control flow
        writes one value in each branch; ExecuTorch reuses indices), so every value has one producer."""
        value = self.value(index, what)
        if index not in self.written:
            self.written.add(index)
            return value
        version = self.graph.value(f"%{index} (written by {writer})", TensorType(value.type.dtype, value.type.shape))
        version.metadata.update(value.metadata)
        version.metadata["writes"] = value.name
        self.made[index] = version
        return version

    def _tensor_value(self, index: int, info: TensorInfo) -> Value:
        dtype = SCALAR_TYPES.get(info.scalar_type, f"scalar_type_{info.scalar_type}")
        if any(d < 0 for d in info.sizes):
            raise self.fail(f"tensor %{index} has a negative size {info.sizes}")
        shape: tuple[int | None, ...] = tuple(info.sizes)
        if info.shape_dynamism == 2:
            shape = tuple(None for _ in info.sizes)
        name = f"%{index}"
        if info.fully_qualified_name:
            name = info.fully_qualified_name if info.fully_qualified_name not in self.graph.values else f"{info.fully_qualified_name} (%{index})"
        value = self.graph.value(name, TensorType(dtype, shape))
        meta = value.metadata
        if info.scalar_type in SCALAR_TYPE_NAMES:
            meta["scalar_type"] = SCALAR_TYPE_NAMES[info.scalar_type]
        if info.shape_dynamism:
            dynamism = SHAPE_DYNAMISM[info.shape_dynamism] if info.shape_dynamism < len(SHAPE_DYNAMISM) else str(info.shape_dynamism)
            meta["shape_dynamism"] = dynamism
            if info.shape_dynamism == 1:
                meta["upper_bound_sizes"] = list(info.sizes)
        if info.dim_order and info.dim_order != list(range(len(info.sizes))):
            meta["dim_order"] = list(info.dim_order)
        if info.allocated:
            meta["memory_id"] = info.memory_id
            meta["memory_offset"] = info.memory_offset
        if info.device:
            meta["device"] = info.device
        if info.external:
            value.initializer = Tensor(
                name, dtype, tuple(info.sizes), None, None, location=f"external data {info.fully_qualified_name!r} (a .ptd file beside the program)"
            )
        elif info.data_buffer_idx > 0:
            value.initializer = self._stored_tensor(name, dtype, info)
        return value

    def _stored_tensor(self, name: str, dtype: str, info: TensorInfo) -> Tensor:
        sizes = tuple(info.sizes)
        count = int(np.prod(sizes, dtype=np.int64)) if sizes else 1
        from netray.dtypes import byte_size

        nbytes = byte_size(dtype, count)
        if nbytes is None:
            tensor = Tensor(name, dtype, sizes, None, None, location=f"stored as {dtype}, which netray cannot read")
        else:
            position, where = self.owner._constant_location(info, nbytes, f"tensor {name}")
            loader = _loader(self.owner.path, position, nbytes, dtype, sizes, info.dim_order)
            tensor = Tensor(name, dtype, sizes, loader, nbytes, location=where)
        if info.allocated:
            tensor.metadata["mutable"] = True  # a buffer the program updates; these are its initial values
        return tensor

    def _plain(self, index: int, what: str) -> Any:
        """A non-tensor EValue as a Python value (IntList items are indices of Int values)."""
        ev = self.evalue(index, what)
        if ev.kind in ("int", "double", "bool", "string"):
            return ev.value
        if ev.kind in ("double_list", "bool_list"):
            return list(ev.value)
        if ev.kind == "int_list":
            items = []
            for i in ev.value:
                item = self.evalue(i, f"the int list %{index}")
                items.append(item.value if item.kind == "int" else None)
            return items if all(isinstance(i, int) for i in items) else [i if isinstance(i, int) else -1 for i in items]
        return None

    # -- instructions --------------------------------------------------------------------
    def _writes(self, instruction: Instruction) -> list[int]:
        """Value indices an instruction writes (for telling computed values from constants)."""
        if instruction.kind == "KernelCall":
            _, outputs, _ = self._kernel_split(instruction)
            return [i for _, i in outputs]
        if instruction.kind == "MoveCall":
            return [instruction.move_to]
        return []

    def _kernel_split(self, instruction: Instruction) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[tuple[str, int]]]:
        """(inputs, outputs, in-place) of a KernelCall as (argument name, value index), named by the schema when known.

        Outputs are the ``out`` arguments and the returned values; in-place arguments (``self``
        of ``copy_``) are read and written, so they are inputs and also listed in the third part.
        """
        plan, args = self.plan, instruction.args
        if not 0 <= instruction.index < len(plan.operators):
            raise self.fail(f"a KernelCall refers to operator {instruction.index}; the method lists {len(plan.operators)}")
        name, overload = plan.operators[instruction.index]
        schema = SCHEMAS.get(f"{name}.{overload or 'default'}")
        if schema is not None:
            words = schema[0].split()
            if len(args) == len(words) + schema[1]:
                inputs, outputs, in_place = [], [], []
                for word, index in zip(words, args[: len(words)], strict=True):
                    arg = word.lstrip("*").rstrip("!")
                    if not word.endswith("!"):
                        inputs.append((arg, index))
                    elif word.startswith("*"):
                        outputs.append((arg, index))
                    else:
                        inputs.append((arg, index))
                        in_place.append((arg, index))
                written = {i for _, i in outputs} | {i for _, i in in_place}
                returns = args[len(words) :]
                for k, index in enumerate(returns):
                    if index not in written:
                        outputs.append(("out" if len(returns) == 1 else f"out{k}", index))
                return inputs, outputs, in_place
        # Unknown operator: an out variant ends with its out arguments, then the same as its returns.
        n = len(args)
        repeat = max((k for k in range(1, n // 2 + 1) if args[n - k :] == args[n - 2 * k : n - k]), default=0)
        if repeat:
            ins, outs = args[: n - 2 * repeat], args[n - repeat :]
        else:
            ins, outs = args[:-1], args[-1:]
        named_outs = [("out" if len(outs) == 1 else f"out{k}", i) for k, i in enumerate(outs)]
        return [(f"arg{k}", i) for k, i in enumerate(ins)], named_outs, []

    def build(self) -> Graph:
        plan, graph = self.plan, self.graph
        graph.inputs = [self.value(i, "an input of the method") for i in plan.inputs]
        multiple_chains = len(plan.chains) > 1
        for c, chain in enumerate(plan.chains):
            for k, instruction in enumerate(chain.instructions):
                name = f"chain {c} instruction {k}" if multiple_chains else f"instruction {k}"
                node = self._node(instruction, name)
                node.source = _source(chain, k)
                self.defined.update(self._node_writes)
                graph.add_node(node)
        graph.outputs = [self.value(i, "an output of the method") for i in plan.outputs]
        if plan.non_const_buffer_sizes:
            graph.metadata["non_const_buffer_sizes"] = list(plan.non_const_buffer_sizes)
        if plan.non_const_buffer_devices:
            graph.metadata["non_const_buffer_devices"] = [f"{b}: {d}" for b, d in plan.non_const_buffer_devices]
        if plan.encoded_inp_str:
            graph.metadata["encoded_inp_str"] = plan.encoded_inp_str
        if plan.encoded_out_str:
            graph.metadata["encoded_out_str"] = plan.encoded_out_str
        return graph.link()

    def _node(self, instruction: Instruction, name: str) -> Node:
        kind = instruction.kind
        self._node_writes: list[int] = []
        if kind == "KernelCall":
            return self._kernel(instruction, name)
        if kind == "DelegateCall":
            return self._delegate(instruction, name)
        node = Node(kind, name, category=category(kind))
        if kind == "MoveCall":
            node.inputs.append(Port("from", [self.value(instruction.move_from, "a MoveCall")]))
            node.outputs.append(Port("to", [self.output(instruction.move_to, "a MoveCall", name)]))
            self._node_writes = [instruction.move_to]
        elif kind == "JumpFalseCall":
            node.inputs.append(Port("cond", [self.value(instruction.cond_value_index, "a JumpFalseCall")]))
            node.attributes.append(Attribute.of("destination_instruction", instruction.destination_instruction))  # type: ignore[arg-type]
        elif kind == "FreeCall":
            node.inputs.append(Port("value", [self.value(instruction.value_index, "a FreeCall")]))
        else:
            node.op = f"Instruction {kind}"
        return node

    def _kernel(self, instruction: Instruction, name: str) -> Node:
        op = _op_name(self.plan.operators[instruction.index]) if 0 <= instruction.index < len(self.plan.operators) else ""
        inputs, outputs, in_place = self._kernel_split(instruction)
        namespace = op.rpartition("::")[0]
        node = Node(op, name, domain=namespace, category=category(op))
        for arg, index in inputs:
            self._argument(node, arg, index)
        for arg, index in in_place:  # the state after the write: a value of its own, so the graph keeps no cycle
            before = self.value(index, f"{op} {arg}")
            after = self.graph.value(f"{before.name} (written by {name})", TensorType(before.type.dtype, before.type.shape))
            after.metadata["writes"] = before.name
            node.outputs.append(Port(arg, [after]))
        self._node_writes = [index for _, index in outputs]
        for arg, index in outputs:
            ev = self.evalue(index, f"{op} output {arg}")
            if ev.kind == "tensor_list":
                node.outputs.append(Port(arg, [self.output(i, f"{op} {arg}", name) for i in ev.value]))
            elif ev.kind not in ("null", "none"):
                node.outputs.append(Port(arg, [self.output(index, f"{op} {arg}", name)]))
        return node

    def _argument(self, node: Node, arg: str, index: int) -> None:
        """An input argument: a port for tensors and computed scalars, an attribute for constants."""
        what = f"{node.op} argument {arg}"
        ev = self.evalue(index, what)
        if ev.kind == "tensor":
            node.inputs.append(Port(arg, [self.value(index, what)]))
        elif ev.kind in ("tensor_list", "optional_tensor_list"):
            items = [i for i in ev.value if i >= 0 and self.evalue(i, what).kind == "tensor"]
            node.inputs.append(Port(arg, [self.value(i, what) for i in items]))
        elif ev.kind in ("null", "none"):
            return
        elif index in self.produced:
            node.inputs.append(Port(arg, [self.value(index, what)]))
        else:
            plain = self._plain(index, what)
            attribute = Attribute.of(arg, plain, max_text=200)
            if attribute is not None:
                node.attributes.append(attribute)
            if ev.kind == "int_list":  # computed sizes inside a constant list (dynamic shapes)
                computed = [i for i in ev.value if i in self.produced]
                if computed:
                    node.inputs.append(Port(arg, [self.value(i, what) for i in computed]))

    def _delegate(self, instruction: Instruction, name: str) -> Node:
        plan = self.plan
        if not 0 <= instruction.index < len(plan.delegates):
            raise self.fail(f"a DelegateCall refers to delegate {instruction.index}; the method lists {len(plan.delegates)}")
        delegate = plan.delegates[instruction.index]
        args = instruction.args
        for index in args:
            self.evalue(index, f"delegate {delegate.id}")
        node = Node(delegate.id or "DelegateCall", f"delegate {instruction.index}", domain="delegate", category="custom")
        node.doc = "DelegateCall: a subgraph compiled ahead of time by the backend, run as one step"
        position, length, where = self._delegate_data(delegate)
        node.attributes.append(Attribute.of("processed", where))  # type: ignore[arg-type]
        for key, raw in delegate.compile_specs:
            attribute = Attribute.of(key or "compile_spec", _spec_value(raw), max_text=200)
            if attribute is not None:
                node.attributes.append(attribute)
        inputs: list[int] | None = None
        outputs: list[int] | None = None
        if delegate.id == "XnnpackBackend":
            blob = xnnpack.Blob(self.owner.path, self.owner.buf, self.owner.size, position, length, self.owner.named)
            try:
                decoded = xnnpack.decode(blob, f"{plan.name}/delegate {instruction.index}", lambda k: self._arg_name(args, k))
            except xnnpack.BadBlob as exc:
                raise self.fail(f"delegate {instruction.index} ({delegate.id}): {exc}") from None
            if all(0 <= k < len(args) for k in (*decoded.inputs, *decoded.outputs)):
                inputs, outputs = decoded.inputs, decoded.outputs
            node.subgraphs.append(decoded.graph)
            node.metadata["xnngraph_version"] = decoded.version
            self.owner.used_named.update(decoded.named_keys)
        if inputs is None or outputs is None:
            inputs, outputs = self._split_delegate_args(args)
        for k in inputs:
            self._argument(node, f"input{inputs.index(k)}" if len(inputs) > 1 else "input", args[k])
        self._node_writes = [args[k] for k in outputs]
        for n, k in enumerate(outputs):
            port = f"output{n}" if len(outputs) > 1 else "output"
            node.outputs.append(Port(port, [self.output(args[k], f"delegate {delegate.id}", name)]))
        if length:
            blob_value = self.graph.value(f"delegate {instruction.index} processed", TensorType("uint8", (length,)))
            loader = _loader(self.owner.path, position, length, "uint8", (length,), [0])
            blob_value.initializer = Tensor(blob_value.name, "uint8", (length,), loader, length, location=where)
            node.inputs.append(Port("processed", [blob_value]))
        return node

    def _arg_name(self, args: list[int], k: int) -> str | None:
        if not 0 <= k < len(args):
            return None
        return self.value(args[k], "a delegate argument").name

    def _split_delegate_args(self, args: list[int]) -> tuple[list[int], list[int]]:
        """A delegate's arguments are its inputs then its outputs; outputs are the trailing values no one wrote yet."""
        split = len(args)
        while split > 0 and self._unwritten(args[split - 1]):
            split -= 1
        if split == len(args) and args:
            split = len(args) - 1  # every argument already has a value: the last is the output
        return list(range(split)), list(range(split, len(args)))

    def _unwritten(self, index: int) -> bool:
        """A tensor that no earlier instruction wrote, not an input and not stored: a delegate's output."""
        ev = self.plan.values[index]
        return ev.kind == "tensor" and index not in self.defined and ev.value.data_buffer_idx == 0

    def _delegate_data(self, delegate: Delegate) -> tuple[int, int, str]:
        """(file position, size, description) of a delegate's processed data."""
        program = self.owner.program
        if delegate.location == 0:
            if not 0 <= delegate.index < len(program.delegate_data):
                raise self.fail(f"delegate {delegate.id} refers to inline data {delegate.index}; the program has {len(program.delegate_data)}")
            position, length = program.delegate_data[delegate.index]
            return position, length, f"inline, {length:,} bytes @ {position:,}"
        if delegate.location == 1:
            segment = self.owner._segment(delegate.index, f"delegate {delegate.id}")
            return segment.position, segment.size, f"segment {delegate.index}, {segment.size:,} bytes @ {segment.position:,}"
        raise self.fail(f"delegate {delegate.id} has data location {delegate.location}, neither inline nor segment")


def _spec_value(raw: bytes) -> Any:
    """A compile spec's value: text when it is printable UTF-8, else its size (backends define the bytes)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(raw)} bytes>"
    if text.isprintable():
        return text
    return f"<{len(raw)} bytes>"


def _source(chain: Chain, k: int) -> SourceLocation | None:
    if k >= len(chain.stacktrace) or not chain.stacktrace[k]:
        return None
    frames = chain.stacktrace[k]
    last = frames[-1]
    stack = "\n".join(f"{f.filename}:{f.lineno} in {f.name}: {f.context}".rstrip(": ") for f in frames)
    return SourceLocation(last.filename, last.lineno, last.name, stack)
