"""The protobuf wire format, walked by hand, to say precisely where a message stops parsing.

protobuf's own parser answers "Wire format was corrupt" for a whole file. A Core ML file
written by a pre-release schema (``simple_layer.mlmodel``: spec v5 from the MIL preview) or a
damaged one should still open with every part that parses; these functions split a message into
its top-level fields and, for a field that fails, descend to the deepest one that fails.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from netray import protowire
from netray.protowire import Field, WireError

__all__ = ["Field", "WireError", "diagnose", "fields"]

MAX_DEPTH = 24
MAX_FIELDS = 2_000_000  # fields walked in Python for one message: past this, say so rather than crawl on


def fields(data: bytes, base: int = 0) -> list[Field]:
    """The top-level fields of a message's bytes; WireError says where they stop making sense.

    ``base`` is added to the byte positions in messages (the message's offset in the file).
    """
    out: list[Field] = []
    for field in protowire.fields(data, 0, len(data), base=base, format_name="Core ML"):
        out.append(field)
        if len(out) > MAX_FIELDS:
            raise WireError(f"more than {MAX_FIELDS:,} fields in one message at byte {base}")
    return out


def _parses(message_class: Any, data: bytes) -> str | None:
    """None when ``data`` parses as ``message_class``; protobuf's reason otherwise."""
    try:
        message_class.FromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def diagnose(message_class: Any, data: bytes, path: str = "", base: int = 0, depth: int = 0) -> str:
    """Where ``data`` stops parsing as ``message_class``: the deepest failing field, its offset, why.

    The answer reads ``mlProgram.functions.value.block_specializations...: field 3 (operations)
    at byte 200 ...``: each step is a field of the schema whose bytes do not parse as its type.
    """
    descriptor = message_class.DESCRIPTOR
    where = _short(path) or descriptor.name
    try:
        found = fields(data, base)
    except WireError as exc:
        return f"{where}: {exc}"
    if depth >= MAX_DEPTH:
        return f"{where}: messages nested deeper than {MAX_DEPTH} levels (protobuf refuses deep nesting)"
    for field in found:
        schema = descriptor.fields_by_number.get(field.number)
        if schema is None:
            continue  # unknown fields are kept by protobuf, never an error
        chunk = data[field.tag_start : field.end]
        reason = _parses(message_class, chunk)
        if reason is None:
            continue
        name = f"{path}.{schema.name}" if path else schema.name
        expected = _WIRE_TYPES.get(schema.type, 2)
        packed = field.wire_type == 2 and _is_repeated(schema) and schema.type != FieldDescriptor.TYPE_MESSAGE
        if field.wire_type != expected and not packed:
            return (
                f"{_short(name)} (field {field.number}) at byte {base + field.tag_start} is written as wire type "
                f"{field.wire_type}; the schema's {_type_name(schema)} needs wire type {expected}"
            )
        if schema.message_type is not None and field.wire_type == 2:
            inner = _message_class(schema.message_type)
            if inner is not None:
                return diagnose(inner, data[field.start : field.end], name, base + field.start, depth + 1)
        return f"{_short(name)} (field {field.number}) at byte {base + field.tag_start}: {reason}"
    return f"{where}: {_parses(message_class, data) or 'parses'}"


def _short(path: str, keep: int = 8) -> str:
    """A field path of at most ``keep`` names: the first and last ones around an ellipsis."""
    names = path.split(".")
    if len(names) <= keep:
        return path
    return ".".join([*names[: keep // 2], "…", *names[-(keep // 2) :]])


_WIRE_TYPES = {
    FieldDescriptor.TYPE_DOUBLE: 1,
    FieldDescriptor.TYPE_FIXED64: 1,
    FieldDescriptor.TYPE_SFIXED64: 1,
    FieldDescriptor.TYPE_FLOAT: 5,
    FieldDescriptor.TYPE_FIXED32: 5,
    FieldDescriptor.TYPE_SFIXED32: 5,
    FieldDescriptor.TYPE_INT32: 0,
    FieldDescriptor.TYPE_INT64: 0,
    FieldDescriptor.TYPE_UINT32: 0,
    FieldDescriptor.TYPE_UINT64: 0,
    FieldDescriptor.TYPE_SINT32: 0,
    FieldDescriptor.TYPE_SINT64: 0,
    FieldDescriptor.TYPE_BOOL: 0,
    FieldDescriptor.TYPE_ENUM: 0,
}


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)
    return bool(repeated) if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


def _type_name(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        return field.message_type.name
    if field.enum_type is not None:
        return field.enum_type.name
    names = {v: k for k, v in vars(FieldDescriptor).items() if k.startswith("TYPE_")}
    return names.get(field.type, "field").removeprefix("TYPE_").lower()


def _message_class(descriptor: Any) -> Any:
    from google.protobuf import message_factory

    try:
        return message_factory.GetMessageClass(descriptor)
    except (TypeError, KeyError):
        return None
