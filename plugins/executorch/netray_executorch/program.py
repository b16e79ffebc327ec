"""Reads an ExecuTorch ``Program`` flatbuffer (schema/program.fbs, identifier "ET12") into plain objects.

The slots below are the field numbers of pytorch/executorch's ``schema/program.fbs``;
the schema only ever appended fields (its README's rules), so one reader serves every
ET12 file, old ones (constants inline in ``constant_buffer``, no extended header) and
new ones (``constant_segment``, ``mutable_data_segments``, ``named_data``, device info).
A breaking change would get a new file identifier, which :func:`read_program` refuses
by name. The reader follows no offset without checking it (:mod:`netray.flatwire`).

The extended header ("eh00", exir/_serialize/_program.py) follows the identifier:
magic, its length (uint32), the flatbuffer's size (uint64), the segments' base offset
(uint64) and, when the length allows, the segments' total size (uint64).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from netray.flatwire import Buffer, FlatError, Table

IDENTIFIER = b"ET12"
HEADER_MAGIC = b"eh00"
HEADER_MIN_LENGTH = 24
HEADER_WITH_DATA_SIZE = 32

# KernelTypes union members in schema order (0 is NONE).
VALUE_KINDS = (
    "none",
    "null",
    "int",
    "bool",
    "double",
    "tensor",
    "string",
    "int_list",
    "double_list",
    "bool_list",
    "tensor_list",
    "optional_tensor_list",
)
# InstructionArguments union members in schema order (0 is NONE).
INSTRUCTION_KINDS = ("none", "KernelCall", "DelegateCall", "MoveCall", "JumpFalseCall", "FreeCall")
SHAPE_DYNAMISM = ("static", "dynamic_bound", "dynamic_unbound")
DEVICE_TYPES = ("cpu", "cuda")


@dataclass(slots=True)
class ExtendedHeader:
    length: int
    program_size: int
    segment_base_offset: int
    segment_data_size: int


@dataclass(slots=True)
class TensorInfo:
    """One serialized Tensor EValue."""

    scalar_type: int
    sizes: list[int]
    dim_order: list[int]
    data_buffer_idx: int
    allocated: bool  # allocation_info present: memory-planned (mutable)
    memory_id: int = 0
    memory_offset: int = 0
    shape_dynamism: int = 0
    storage_offset: int = 0
    requires_grad: bool = False
    layout: int = 0
    fully_qualified_name: str = ""
    mutable_data_segments_idx: int = 0
    external: bool = False
    device: str = ""


@dataclass(slots=True)
class EValue:
    kind: str
    value: Any = None  # int, bool, float, str, TensorInfo or a list


@dataclass(slots=True)
class Frame:
    filename: str
    lineno: int
    name: str
    context: str


@dataclass(slots=True)
class Instruction:
    kind: str  # an INSTRUCTION_KINDS name, or "unknown(n)"
    index: int = -1  # op_index or delegate_index
    args: list[int] = field(default_factory=list)
    move_from: int = -1
    move_to: int = -1
    cond_value_index: int = -1
    destination_instruction: int = -1
    value_index: int = -1


@dataclass(slots=True)
class Chain:
    inputs: list[int]
    outputs: list[int]
    instructions: list[Instruction]
    stacktrace: list[list[Frame]]


@dataclass(slots=True)
class Delegate:
    id: str
    location: int  # 0 inline (Program.backend_delegate_data), 1 segment (Program.segments)
    index: int
    compile_specs: list[tuple[str, bytes]]


@dataclass(slots=True)
class Plan:
    name: str
    values: list[EValue]
    inputs: list[int]
    outputs: list[int]
    chains: list[Chain]
    operators: list[tuple[str, str]]
    delegates: list[Delegate]
    non_const_buffer_sizes: list[int]
    encoded_inp_str: str = ""
    encoded_out_str: str = ""
    non_const_buffer_devices: list[tuple[int, str]] = field(default_factory=list)


@dataclass(slots=True)
class Program:
    version: int
    plans: list[Plan]
    constant_buffer: list[tuple[int, int]]  # (position, size) of each inline Buffer.storage
    delegate_data: list[tuple[int, int]]  # (position, size) of each inline delegate blob
    segments: list[tuple[int, int]]  # (offset from the segment base, size)
    constant_segment: tuple[int, list[int]] | None  # (segment index, offsets)
    mutable_data_segments: list[tuple[int, list[int]]]
    named_data: list[tuple[str, int]]  # (key, segment index)
    header: ExtendedHeader | None


class BadProgram(Exception):
    """The file is not a readable Program; the message is one sentence."""


def read_header(buf: Buffer, size: int) -> ExtendedHeader | None:
    """The extended header after the identifier, or None when the file has none."""
    if size < 8 + HEADER_MIN_LENGTH or bytes(buf[8:12]) != HEADER_MAGIC:
        return None
    length = struct.unpack_from("<I", buf, 12)[0]
    if length < HEADER_MIN_LENGTH:
        raise BadProgram(f"the extended header says it is {length} bytes long, less than the {HEADER_MIN_LENGTH} it needs")
    program_size, base = struct.unpack_from("<QQ", buf, 16)
    data_size = struct.unpack_from("<Q", buf, 32)[0] if length >= HEADER_WITH_DATA_SIZE and size >= 40 else 0
    return ExtendedHeader(length, program_size, base, data_size)


def read_program(buf: Buffer, size: int) -> Program:
    """Decode the Program of a .pte held in ``buf`` (``size`` bytes)."""
    if size < 8:
        raise BadProgram(f"the file has {size} bytes, too few for a flatbuffer header")
    identifier = bytes(buf[4:8])
    if identifier != IDENTIFIER:
        if re.fullmatch(rb"ET\d\d", identifier):
            raise BadProgram(
                f"its schema identifier is {identifier.decode()}, a Program schema this plugin does not know "
                f"(it reads {IDENTIFIER.decode()}, the schema of every ExecuTorch release so far)"
            )
        raise BadProgram(f"bytes 4..8 are {identifier!r}, not the ExecuTorch identifier {IDENTIFIER!r}")
    header = read_header(buf, size)
    limit = size
    if header is not None:
        if header.program_size > size:
            raise BadProgram(
                f"the extended header says the program takes {header.program_size:,} bytes; the file has {size:,} (truncated?)"
            )
        if header.program_size < 8 + HEADER_MIN_LENGTH:
            raise BadProgram(f"the extended header gives an impossible program size of {header.program_size} bytes")
        limit = header.program_size
    try:
        return _program(Table.root(buf, limit, "the Program"), header)
    except FlatError as exc:
        raise BadProgram(f"the Program flatbuffer is corrupt: {exc}") from None
    except (struct.error, ValueError, IndexError) as exc:  # belt and braces: a check this reader forgot
        raise BadProgram(f"the Program flatbuffer is corrupt: {exc}") from None


def _program(root: Table, header: ExtendedHeader | None) -> Program:
    constant_segment = None
    segment_table = root.table(5, "Program.constant_segment")
    if segment_table is not None:
        constant_segment = _subsegment(segment_table, "Program.constant_segment")
    return Program(
        version=root.scalar(0, "uint"),
        plans=[_plan(t) for t in root.tables(1, "Program.execution_plan")],
        constant_buffer=[_byte_vector(t, 0, f"{t.what}.storage") for t in root.tables(2, "Program.constant_buffer")],
        delegate_data=[_byte_vector(t, 0, f"{t.what}.data") for t in root.tables(3, "Program.backend_delegate_data")],
        segments=[(t.scalar(0, "ulong"), t.scalar(1, "ulong")) for t in root.tables(4, "Program.segments")],
        constant_segment=constant_segment,
        mutable_data_segments=[_subsegment(t, t.what) for t in root.tables(6, "Program.mutable_data_segments")],
        named_data=[(t.string(0, f"{t.what}.key"), t.scalar(1, "uint")) for t in root.tables(7, "Program.named_data")],
        header=header,
    )


def _byte_vector(table: Table, slot: int, what: str) -> tuple[int, int]:
    span = table.vector_span(slot, 1, what)
    return (0, 0) if span is None else span


def _subsegment(table: Table, what: str) -> tuple[int, list[int]]:
    return table.scalar(0, "uint"), table.scalars(1, "ulong", f"{what}.offsets")


def _plan(t: Table) -> Plan:
    what = t.what
    name = t.string(0, f"{what}.name")
    container = t.table(1, f"{what}.container_meta_type")
    devices = [
        (d.scalar(0, "int"), _device(d.scalar(1, "byte"), d.scalar(2, "byte")))
        for d in t.tables(9, f"{what}.non_const_buffer_device")
    ]
    return Plan(
        name=name,
        values=[_evalue(v) for v in t.tables(2, f"plan {name!r} values")],
        inputs=t.scalars(3, "int", f"{what}.inputs"),
        outputs=t.scalars(4, "int", f"{what}.outputs"),
        chains=[_chain(c) for c in t.tables(5, f"plan {name!r} chains")],
        operators=[(o.string(0, f"{o.what}.name"), o.string(1, f"{o.what}.overload")) for o in t.tables(6, f"{what}.operators")],
        delegates=[_delegate(d) for d in t.tables(7, f"plan {name!r} delegates")],
        non_const_buffer_sizes=t.scalars(8, "long", f"{what}.non_const_buffer_sizes"),
        encoded_inp_str=container.string(0, "encoded_inp_str") if container else "",
        encoded_out_str=container.string(1, "encoded_out_str") if container else "",
        non_const_buffer_devices=devices,
    )


def _device(kind: int, index: int) -> str:
    name = DEVICE_TYPES[kind] if 0 <= kind < len(DEVICE_TYPES) else f"device{kind}"
    return f"{name}:{index}"


def _evalue(t: Table) -> EValue:
    kind_number, body = t.union(0, f"{t.what}.val")
    kind = VALUE_KINDS[kind_number] if kind_number < len(VALUE_KINDS) else f"unknown({kind_number})"
    if body is None or kind in ("none", "null") or kind.startswith("unknown"):
        return EValue(kind)
    what = body.what
    if kind == "int":
        return EValue(kind, body.scalar(0, "long"))
    if kind == "bool":
        return EValue(kind, body.scalar(0, "bool", False))
    if kind == "double":
        return EValue(kind, body.scalar(0, "double", 0.0))
    if kind == "string":
        return EValue(kind, body.string(0, f"{what}.string_val"))
    if kind == "int_list":
        return EValue(kind, body.scalars(0, "long", f"{what}.items"))  # indices of Int EValues
    if kind == "double_list":
        return EValue(kind, body.scalars(0, "double", f"{what}.items"))
    if kind == "bool_list":
        return EValue(kind, body.scalars(0, "bool", f"{what}.items"))
    if kind in ("tensor_list", "optional_tensor_list"):
        return EValue(kind, body.scalars(0, "int", f"{what}.items"))
    return EValue(kind, _tensor(body))


def _tensor(t: Table) -> TensorInfo:
    what = t.what
    info = TensorInfo(
        scalar_type=t.scalar(0, "byte"),
        storage_offset=t.scalar(1, "int"),
        sizes=t.scalars(2, "int", f"{what}.sizes"),
        dim_order=t.scalars(3, "ubyte", f"{what}.dim_order"),
        requires_grad=t.scalar(4, "bool", False),
        data_buffer_idx=t.scalar(5, "uint"),
        allocated=t.has(6),
        layout=t.scalar(7, "byte"),
        shape_dynamism=t.scalar(8, "byte"),
    )
    allocation = t.table(6, f"{what}.allocation_info")
    if allocation is not None:
        info.memory_id = allocation.scalar(0, "uint")
        info.memory_offset = allocation.scalar(1, "uint") | (allocation.scalar(2, "uint") << 32)
    extra = t.table(9, f"{what}.extra_tensor_info")
    if extra is not None:
        info.mutable_data_segments_idx = extra.scalar(0, "ulong")
        info.fully_qualified_name = extra.string(1, f"{what}.fully_qualified_name")
        info.external = extra.scalar(2, "byte") == 1
        device_type, device_index = extra.scalar(3, "byte"), extra.scalar(4, "byte")
        if device_type or device_index:
            info.device = _device(device_type, device_index)
    return info


def _chain(t: Table) -> Chain:
    what = t.what
    instructions = []
    for k, item in enumerate(t.tables(2, f"{what}.instructions")):
        instructions.append(_instruction(item, f"{what} instruction {k}"))
    stacktrace = []
    for frames in t.tables(3, f"{what}.stacktrace"):
        stacktrace.append(
            [
                Frame(f.string(0, "filename"), f.scalar(1, "int"), f.string(2, "name"), f.string(3, "context"))
                for f in frames.tables(0, f"{frames.what}.items")
            ]
        )
    return Chain(t.scalars(0, "int", f"{what}.inputs"), t.scalars(1, "int", f"{what}.outputs"), instructions, stacktrace)


def _instruction(t: Table, what: str) -> Instruction:
    kind_number, body = t.union(0, what)
    kind = INSTRUCTION_KINDS[kind_number] if kind_number < len(INSTRUCTION_KINDS) else f"unknown({kind_number})"
    out = Instruction(kind)
    if body is None:
        return out
    if kind in ("KernelCall", "DelegateCall"):
        out.index = body.scalar(0, "int")
        out.args = body.scalars(1, "int", f"{what} args")
    elif kind == "MoveCall":
        out.move_from, out.move_to = body.scalar(0, "int"), body.scalar(1, "int")
    elif kind == "JumpFalseCall":
        out.cond_value_index, out.destination_instruction = body.scalar(0, "int"), body.scalar(1, "int")
    elif kind == "FreeCall":
        out.value_index = body.scalar(0, "int")
    return out


def _delegate(t: Table) -> Delegate:
    what = t.what
    processed = t.table(1, f"{what}.processed")
    specs = [(s.string(0, "key"), s.bytes_(1, f"{s.what}.value") or b"") for s in t.tables(2, f"{what}.compile_specs")]
    return Delegate(
        id=t.string(0, f"{what}.id"),
        location=processed.scalar(0, "byte") if processed else -1,
        index=processed.scalar(1, "uint") if processed else -1,
        compile_specs=specs,
    )
