"""A layer's parameters as typed attributes, read from its protobuf message by the descriptor.

The fields of each ``*_param`` message are shown under their own names (``num_output``,
``kernel_size``, ``stride``); nested messages (fillers) as dotted names; enums by their
value names (``MAX``); BlobShapes as shapes. Only fields the file sets are shown, as Caffe
writes them; defaults are what the panel's documentation explains.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor

from netray import Attribute, AttrKind

# LayerParameter fields that are the layer's structure, not its parameters.
STRUCTURE = frozenset(
    {"name", "type", "bottom", "top", "blobs", "include", "exclude", "phase", "layer", "blob_share_mode"}
)
# Per-layer fields outside any *_param message shown as they are.
LAYER_FIELDS = ("loss_weight", "propagate_down", "blobs_lr", "weight_decay")
MAX_ITEMS = 4096  # a repeated field longer than this is shown as a count


def is_repeated(field: FieldDescriptor) -> bool:
    """Whether a field is repeated, across protobuf versions (7 dropped ``label`` for ``is_repeated``)."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(is_repeated(field))


def _enum_name(field: FieldDescriptor, number: int) -> str:
    value = field.enum_type.values_by_number.get(number)
    return value.name if value is not None else str(number)


def _is_shape(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.name == "BlobShape"


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum_name(field, value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return bytes(value)
    return value


def field_attributes(message: Any, prefix: str = "") -> list[Attribute]:
    """Every set field of ``message`` (recursively for nested messages) as attributes."""
    out: list[Attribute] = []
    for field, value in message.ListFields():
        name = prefix + field.name
        repeated = is_repeated(field)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if _is_shape(field):
                if repeated:
                    out.append(Attribute(name, AttrKind.SHAPES, [tuple(int(d) for d in s.dim) for s in value]))
                else:
                    out.append(Attribute(name, AttrKind.SHAPE, tuple(int(d) for d in value.dim)))
            elif repeated:
                texts = [text_format.MessageToString(item, as_one_line=True) for item in value]
                out.append(Attribute(name, AttrKind.STRINGS, texts))
            else:
                out += field_attributes(value, name + ".")
            continue
        if repeated:
            items = list(value)
            if len(items) > MAX_ITEMS:
                out.append(Attribute(name, AttrKind.STRING, f"<{len(items):,} values>"))
                continue
            attr = Attribute.of(name, [_scalar(field, v) for v in items])
        else:
            attr = Attribute.of(name, _scalar(field, value), max_text=1000)
        if attr is not None:
            out.append(attr)
    return out


def layer_attributes(message: Any) -> list[Attribute]:
    """The attributes of a layer: its *_param fields under their own names, then per-layer fields."""
    params: list[Attribute] = []
    extra: list[Attribute] = []
    for field, value in message.ListFields():
        if field.name in STRUCTURE:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.name.endswith("_param") and not is_repeated(field):
            params += field_attributes(value)
        elif field.name == "param":  # ParamSpec per blob: lr_mult, decay_mult, name
            for key in ("name", "lr_mult", "decay_mult"):
                if any(p.HasField(key) for p in value):
                    attr = Attribute.of(f"param.{key}", [getattr(p, key) for p in value])
                    if attr is not None:
                        extra.append(attr)
        elif field.name in LAYER_FIELDS or field.type != FieldDescriptor.TYPE_MESSAGE:
            extra += field_attributes_of(message, field, value)
        else:
            extra += field_attributes(value, field.name + ".") if not is_repeated(field) else []
    seen: set[str] = set()
    unique = []
    for attr in params + extra:  # two *_param messages may share a field name: keep the first
        if attr.name not in seen:
            seen.add(attr.name)
            unique.append(attr)
    return unique


def field_attributes_of(message: Any, field: FieldDescriptor, value: Any) -> list[Attribute]:
    """One plain field of the layer message itself as an attribute."""
    if is_repeated(field):
        attr = Attribute.of(field.name, [_scalar(field, v) for v in value])
    else:
        attr = Attribute.of(field.name, _scalar(field, value), max_text=1000)
    return [attr] if attr is not None else []
