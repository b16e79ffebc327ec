"""The text of a box: shared by the layout (to size boxes) and the viewer (to draw them).

A node box shows its op type as the title, then a few compact lines: the key
attributes ("7x7 /2 pad 3") and its weights ("W 64x3x7x7", "B 64"). Small constants
show their values instead of their shape ("shape = [1, 64, 16]", "alpha = 0.5"), and
the constant nodes folded into a box (:attr:`netray.hierarchy.Hierarchy.foldable`)
are listed like its weights. :class:`BoxText` says which of these a box shows (the
viewer's Show Names, Attributes and Weights). Sizes are estimated from character
counts for an ~11px font so no font metrics (and no Qt) are needed to lay out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from netray.ir import Attribute, AttrKind, Node, Tensor, Value, shape_text

# Average advance of one character of an ~11px sans-serif font, in scene units.
CHAR_WIDTH = 6.6
TITLE_CHAR_WIDTH = 7.2  # the title is bold
LINE_HEIGHT = 14.0
PADDING_X = 8.0
PADDING_Y = 5.0
MIN_WIDTH = 44.0
# Shape labels on edges: a ~9px font.
EDGE_CHAR_WIDTH = 5.6
EDGE_LABEL_HEIGHT = 11.0
EDGE_LABEL_CLEARANCE = 18.0  # room along an edge besides its label: the arrowhead and a margin
MAX_LINE_CHARS = 28  # longer lines are cut with an ellipsis
BOX_VALUES = 8  # a constant of at most this many elements shows its values in a box
READ_VALUES_BYTES = 4096  # never read more than this to show values


@dataclass(frozen=True)
class BoxText:
    """What a node's box shows besides its op type."""

    names: bool = False  # the node's name, as the first line
    attributes: bool = True  # key attributes ("7x7 /2 pad 3", "alpha=0.25")
    weights: bool = True  # weights and folded constants ("W 64x3x7x7", "shape = [1, 64, 16]")


DEFAULT_TEXT = BoxText()

# A folded constant feeding a value: the node that makes it, for its tensor and attributes.
ConstantOf = Callable[[Value], "Node | None"]

# Attributes too common or too noisy to be worth a line in a small box.
_SKIPPED_ATTRIBUTES = frozenset({"dilations", "group", "auto_pad", "storage_order", "ceil_mode", "training_mode"})
# Conventional short names for the attributes every convolution and pool carries.
_WINDOW = ("kernel_shape", "kernel_size", "pool_size", "filter_size", "ksize", "kernelSize", "kernel_w")  # Core ML, ncnn last
_STRIDE = ("strides", "stride", "stride_w")
_PADS = ("pads", "padding", "pad", "pad_left")
_SIZE_WITH_STRIDE = "size"  # Darknet's window; too common a name to be one without a stride beside it


def node_title(node: Node) -> str:
    """The op type, as shown in the box's first line (e.g. ``Conv``)."""
    return node.op or "?"


def _ints(attr: Attribute | None) -> list[int] | None:
    if attr is None:
        return None
    v = attr.value
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return [v]
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return [int(x) for x in v]
    return None


def _first(attrs: dict[str, Attribute], names: Sequence[str]) -> Attribute | None:
    for name in names:
        a = attrs.get(name)
        if a is not None:
            return a
    return None


def _uniform(values: list[int]) -> str:
    """``[2, 2]`` -> ``2``; ``[1, 2]`` -> ``1x2``."""
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _window_line(attrs: dict[str, Attribute], used: set[str]) -> str | None:
    """Convolution/pool window in the compact ``7x7 /2 pad 3`` style."""
    if not attrs:
        return None
    kernel_attr = _first(attrs, _WINDOW)
    if kernel_attr is None and _SIZE_WITH_STRIDE in attrs and _first(attrs, _STRIDE) is not None:
        kernel_attr = attrs[_SIZE_WITH_STRIDE]
    kernel = _ints(kernel_attr)
    if kernel_attr is None or kernel is None:
        return None
    used.add(kernel_attr.name)
    parts = ["x".join(str(k) for k in kernel)]
    stride_attr = _first(attrs, _STRIDE)
    stride = _ints(stride_attr)
    if stride_attr is not None and stride is not None:
        used.add(stride_attr.name)
        if any(s != 1 for s in stride):
            parts.append("/" + _uniform(stride))
    pad_attr = _first(attrs, _PADS)
    if pad_attr is not None:
        used.add(pad_attr.name)
        pads = _ints(pad_attr)
        if pads is not None:
            if any(p != 0 for p in pads):
                parts.append("pad " + _uniform(pads))
        elif isinstance(pad_attr.value, str) and pad_attr.value:
            parts.append(pad_attr.value.lower())
    return " ".join(parts)


def values_text(tensor: Tensor | None, max_elements: int = BOX_VALUES, max_chars: int = MAX_LINE_CHARS) -> str | None:
    """A small tensor's values as text (``0.5``, ``[1, 64, 16]``); None if large, unreadable or not numbers.

    Reads the tensor (a few bytes: never more than READ_VALUES_BYTES), so callers ask
    only for what they show.
    """
    if tensor is None or not tensor.has_data or tensor.size is None or tensor.size > max_elements:
        return None
    if tensor.byte_size is not None and tensor.byte_size > READ_VALUES_BYTES:
        return None
    try:
        array = np.asarray(tensor.numpy())
    except Exception:  # an unreadable tensor shows its shape instead; the panel says why
        return None
    if array.size > max_elements or array.dtype.kind not in "biuf":
        return None
    items = [_number(v) for v in array.reshape(-1).tolist()]
    text = items[0] if array.ndim == 0 else "[" + ", ".join(items) + "]"
    return text if len(text) <= max_chars else None


def _number(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _attribute_text(attr: Attribute) -> str | None:
    if attr.kind in (AttrKind.GRAPH, AttrKind.GRAPHS, AttrKind.TENSORS):
        return None
    if attr.kind is AttrKind.TENSOR:
        t = attr.value
        shown = values_text(t, max_chars=MAX_LINE_CHARS - len(attr.name) - 3) if isinstance(t, Tensor) else None
        if shown is not None:
            return f"{attr.name} = {shown}"
        return f"{attr.name} <{shape_text(getattr(t, 'shape', None))}>"
    if attr.kind in (AttrKind.INTS, AttrKind.SHAPE) and isinstance(attr.value, (list, tuple)):
        values = [str(v) for v in attr.value]
        text = "x".join(values) if attr.kind is AttrKind.SHAPE else ",".join(values)
        return f"{attr.name}={text}"
    return f"{attr.name}={attr.text(limit=MAX_LINE_CHARS)}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def constant_tensor(node: Node) -> Tensor | None:
    """The tensor a constant node holds (its first tensor attribute, ``value`` for ONNX and TensorFlow)."""
    for attr in node.attributes:
        if attr.kind is AttrKind.TENSOR and isinstance(attr.value, Tensor):
            return attr.value
    return None


def constant_text(node: Node, value: Value) -> str:
    """What a folded constant shows where it is used: its values if small, else its shape."""
    tensor = constant_tensor(node)
    if tensor is None:
        # Constants described by attributes (Paddle's fill_constant): a scalar value, else the shape.
        scalar = node.attribute("value")
        if scalar is not None and scalar.kind in (AttrKind.INT, AttrKind.FLOAT, AttrKind.BOOL):
            return "= " + scalar.text(MAX_LINE_CHARS)
        return shape_text(value.type.shape)
    shown = values_text(tensor)
    return f"= {shown}" if shown is not None else shape_text(tensor.shape if tensor.shape is not None else value.type.shape)


def _weight_lines(node: Node, constant_of: ConstantOf | None = None) -> list[str]:
    """``W 64x3x7x7``, ``B 64``: the first weight is W, the second B, then the input names.

    A small weight shows its values (``shape = [1, 64, 16]``); a folded constant is listed
    the same way (``constant_of`` names the constant node making a value, if folded).
    """
    lines: list[str] = []
    for port in node.inputs:
        for v in port.values:
            constant = constant_of(v) if constant_of is not None and v.initializer is None else None
            if v.initializer is None and constant is None:
                continue
            if port.name and port.name.lower() not in ("input", "x", "inputs", ""):
                label = port.name if len(port.name) <= 8 else port.name[:7] + "…"
            else:
                label = "W" if not lines else ("B" if len(lines) == 1 else f"#{len(lines)}")
            if constant is not None:
                lines.append(f"{label} {constant_text(constant, v)}")
                continue
            tensor = v.initializer
            assert tensor is not None
            shown = values_text(tensor, max_chars=MAX_LINE_CHARS - len(label) - 3)
            if shown is not None:
                lines.append(f"{label} = {shown}")
            else:
                lines.append(f"{label} {shape_text(tensor.shape if tensor.shape is not None else v.type.shape)}")
    return lines


def _name_line(name: str) -> str:
    """A node's name for its box, cut at the start: the end of a path says the most."""
    return name if len(name) <= MAX_LINE_CHARS else "…" + name[-(MAX_LINE_CHARS - 1) :]


def node_lines(node: Node, max_lines: int = 4, text: BoxText = DEFAULT_TEXT, constant_of: ConstantOf | None = None) -> list[str]:
    """The node's name (if asked), compact key attributes, then weights: at most ``max_lines`` lines besides the name.

    Attributes come first because they say what the op does; the weights' shapes
    follow. When everything does not fit, the last line says how much is hidden.
    """
    attr_lines: list[str] = []
    if text.attributes:
        used: set[str] = set()
        window = _window_line({a.name: a for a in node.attributes}, used)
        if window:
            attr_lines.append(window)
        for attr in node.attributes:
            if attr.name in used or attr.name in _SKIPPED_ATTRIBUTES:
                continue
            shown = _attribute_text(attr)
            if shown:
                attr_lines.append(_clip(shown))
    weights = [_clip(w) for w in _weight_lines(node, constant_of)] if text.weights else []
    # Weights are the more telling facts: keep them, give attributes what room is left.
    weights = weights[:max_lines]
    room = max(0, max_lines - len(weights))
    if len(attr_lines) > room:
        hidden = len(attr_lines) - room + 1
        attr_lines = [*attr_lines[: max(0, room - 1)], f"+{hidden} more"] if room > 0 else []
    name = [_name_line(node.name)] if text.names and node.name and node.name != node.op else []
    return [*name, *attr_lines, *weights]


def box_size(title: str, lines: list[str]) -> tuple[float, float]:
    """Width and height in scene units of a box showing ``title`` and ``lines``."""
    chars = max([len(title) * TITLE_CHAR_WIDTH, *(len(line) * CHAR_WIDTH for line in lines)])
    width = max(MIN_WIDTH, chars + 2 * PADDING_X)
    height = 2 * PADDING_Y + LINE_HEIGHT * (1 + len(lines))
    return (round(width, 1), height)


def format_count(n: int) -> str:
    """``1234567`` -> ``1.2M``: parameter and op counts in a box."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}".replace(".0" + unit, unit)
    return str(n)


def group_lines(op_count: int, parameters: int, top_ops: Sequence[tuple[str, int]]) -> list[str]:
    """A collapsed group's summary: ``12 ops · 1.2M params`` then its main op types."""
    first = f"{op_count} ops" + (f" · {format_count(parameters)} params" if parameters else "")
    lines = [first]
    ops = [f"{op} ×{count}" if count > 1 else op for op, count in top_ops]
    for a in range(0, min(len(ops), 4), 2):
        lines.append(_clip(", ".join(ops[a : a + 2])))
    return lines


def value_title(name: str) -> str:
    """A graph input's or output's box title: its name, shortened."""
    return _clip(name or "?")


def value_lines(dtype: str | None, shape: tuple | None) -> list[str]:
    """``float32 1x3x224x224``: the type of a graph input or output."""
    text = " ".join(t for t in ((dtype or ""), ("" if shape is None else shape_text(shape))) if t)
    return [_clip(text)] if text else []
