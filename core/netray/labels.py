"""The text of a box: shared by the layout (to size boxes) and the viewer (to draw them).

A node box shows its op type as the title, then a few compact lines: the key
attributes ("7x7 /2 pad 3") and its weights ("W 64x3x7x7", "B 64"). Sizes are
estimated from character counts for an ~11px font so no font metrics (and no Qt)
are needed to lay out.
"""

from __future__ import annotations

from collections.abc import Sequence

from netray.ir import Attribute, AttrKind, Node, shape_text

# Average advance of one character of an ~11px sans-serif font, in scene units.
CHAR_WIDTH = 6.6
TITLE_CHAR_WIDTH = 7.2  # the title is bold
LINE_HEIGHT = 14.0
PADDING_X = 8.0
PADDING_Y = 5.0
MIN_WIDTH = 44.0
MAX_LINE_CHARS = 28  # longer lines are cut with an ellipsis

# Attributes too common or too noisy to be worth a line in a small box.
_SKIPPED_ATTRIBUTES = frozenset({"dilations", "group", "auto_pad", "storage_order", "ceil_mode", "training_mode"})
# Conventional short names for the attributes every convolution and pool carries.
_WINDOW = ("kernel_shape", "kernel_size", "pool_size", "filter_size", "ksize")
_STRIDE = ("strides", "stride")
_PADS = ("pads", "padding", "pad")


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


def _attribute_text(attr: Attribute) -> str | None:
    if attr.kind in (AttrKind.GRAPH, AttrKind.GRAPHS, AttrKind.TENSORS):
        return None
    if attr.kind is AttrKind.TENSOR:
        t = attr.value
        shape = getattr(t, "shape", None)
        return f"{attr.name}=<{shape_text(shape)}>"
    if attr.kind in (AttrKind.INTS, AttrKind.SHAPE) and isinstance(attr.value, (list, tuple)):
        values = [str(v) for v in attr.value]
        text = "x".join(values) if attr.kind is AttrKind.SHAPE else ",".join(values)
        return f"{attr.name}={text}"
    return f"{attr.name}={attr.text(limit=MAX_LINE_CHARS)}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def _weight_lines(node: Node) -> list[str]:
    """``W 64x3x7x7``, ``B 64``: the first weight is W, the second B, then the input names."""
    lines: list[str] = []
    for port in node.inputs:
        for v in port.values:
            if v.initializer is None:
                continue
            shape = v.initializer.shape if v.initializer.shape is not None else v.type.shape
            if port.name and port.name.lower() not in ("input", "x", "inputs", ""):
                label = port.name if len(port.name) <= 8 else port.name[:7] + "…"
            else:
                label = "W" if not lines else ("B" if len(lines) == 1 else f"#{len(lines)}")
            lines.append(f"{label} {shape_text(shape)}")
    return lines


def node_lines(node: Node, max_lines: int = 4) -> list[str]:
    """Compact key attributes, then weights, at most ``max_lines`` lines.

    Attributes come first because they say what the op does; the weights' shapes
    follow. When everything does not fit, the last line says how much is hidden.
    """
    used: set[str] = set()
    attr_lines: list[str] = []
    window = _window_line({a.name: a for a in node.attributes}, used)
    if window:
        attr_lines.append(window)
    for attr in node.attributes:
        if attr.name in used or attr.name in _SKIPPED_ATTRIBUTES:
            continue
        text = _attribute_text(attr)
        if text:
            attr_lines.append(_clip(text))
    weights = [_clip(w) for w in _weight_lines(node)]
    # Weights are the more telling facts: keep them, give attributes what room is left.
    weights = weights[:max_lines]
    room = max(0, max_lines - len(weights))
    if len(attr_lines) > room:
        hidden = len(attr_lines) - room + 1
        attr_lines = [*attr_lines[: max(0, room - 1)], f"+{hidden} more"] if room > 0 else []
    return [*attr_lines, *weights]


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
