"""Protobuf parameter messages as netray attributes, generically, by the schema's own field names.

A layer's or model's parameters are a message: scalars and repeated scalars become typed
attributes, enums their value names, a set ``oneof`` member an attribute named after the
oneof (``ConvolutionPaddingType = "valid"``) followed by that member's own fields, nested
messages dotted names (``valid.paddingAmounts``), repeated messages a list of plain dicts.
Weight messages (``WeightParams``) are skipped here: they become tensors (see weights.py).
Sizes are bounded: a long list is summarised by its length, and nesting stops at a depth.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from netray import Attribute, AttrKind

MAX_LIST = 1024  # longer repeated fields are summarised by their length
MAX_ITEMS = 64  # repeated messages shown as dicts at most
MAX_DEPTH = 4
WEIGHT_MESSAGES = frozenset({"CoreML.Specification.WeightParams", "CoreML.Specification.LSTMWeightParams"})

_LABEL_REPEATED = FieldDescriptor.LABEL_REPEATED


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 5.28 names it; older has only label
    return bool(repeated) if repeated is not None else field.label == _LABEL_REPEATED


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        item = field.enum_type.values_by_number.get(value)
        return item.name if item is not None else int(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return f"<{len(value):,} bytes>"
    return value


def plain(message: Any, depth: int = 0) -> Any:
    """A message as JSON-like data (dicts, lists, scalars), bounded in size and depth."""
    if depth > MAX_DEPTH:
        return "…"
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.full_name in WEIGHT_MESSAGES:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            out[field.name] = _map(field, value, depth)
        elif _is_repeated(field):
            items = list(value[:MAX_ITEMS]) if len(value) <= MAX_LIST or field.message_type is not None else None
            out[field.name] = (
                [_plain_item(field, v, depth) for v in items] if items is not None else f"<{len(value):,} values>"
            )
        else:
            out[field.name] = _plain_item(field, value, depth)
    return out


def _map(field: FieldDescriptor, value: Any, depth: int) -> dict[str, Any]:
    entry = field.message_type.fields_by_name["value"]
    return {str(k): _plain_item(entry, v, depth) for k, v in list(value.items())[:MAX_ITEMS]}


def _plain_item(field: FieldDescriptor, value: Any, depth: int) -> Any:
    if field.message_type is not None:
        return plain(value, depth + 1)
    return _scalar(field, value)


def _fields(message: Any) -> list[tuple[FieldDescriptor, Any]]:
    """The set fields, plus singular enums left at their default: proto3 omits those, but the
    default is a choice that matters (pooling ``type`` MAX, padding ``mode`` CONSTANT)."""
    found = list(message.ListFields())
    present = {f.number for f, _ in found}
    for field in message.DESCRIPTOR.fields:
        if (
            field.type == FieldDescriptor.TYPE_ENUM
            and field.number not in present
            and not _is_repeated(field)
            and field.containing_oneof is None
        ):
            found.append((field, getattr(message, field.name)))
    found.sort(key=lambda item: item[0].index)
    return found


def attributes(message: Any, prefix: str = "", depth: int = 0, skip: frozenset[str] = frozenset()) -> list[Attribute]:
    """The set fields of ``message`` as attributes (``prefix`` dots nested names).

    Fields whose message type is a weight message or named in ``skip`` (nested networks, shown
    as subgraphs) are left out.
    """
    out: list[Attribute] = []
    for field, value in _fields(message):
        name = prefix + field.name
        message_type = field.message_type
        if message_type is not None and (message_type.full_name in WEIGHT_MESSAGES or message_type.full_name in skip):
            continue
        oneof = field.containing_oneof
        if oneof is not None and not getattr(oneof, "synthetic", False):
            out.append(Attribute(prefix + oneof.name, AttrKind.STRING, field.name))
        if message_type is not None and message_type.GetOptions().map_entry:
            out.append(Attribute(name, AttrKind.OTHER, _map(field, value, depth)))
        elif _is_repeated(field):
            out.extend(_repeated(name, field, value, depth))
        elif message_type is not None:
            if depth >= MAX_DEPTH:
                out.append(Attribute(name, AttrKind.OTHER, plain(value, depth)))
            else:
                out.extend(attributes(value, name + ".", depth + 1, skip))
        else:
            attribute = Attribute.of(name, _scalar(field, value))
            if attribute is not None:
                out.append(attribute)
    return out


def _repeated(name: str, field: FieldDescriptor, value: Any, depth: int) -> list[Attribute]:
    if field.message_type is not None:
        items = [plain(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value):,} items")
        return [Attribute(name, AttrKind.OTHER, items)]
    if len(value) > MAX_LIST:
        return [Attribute(name, AttrKind.STRING, f"<{len(value):,} values>")]
    attribute = Attribute.of(name, [_scalar(field, v) for v in value])
    return [attribute] if attribute is not None else []
