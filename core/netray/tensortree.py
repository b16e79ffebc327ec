"""Named tensors as a tree by module path, with repeated blocks marked (no Qt).

A weights-only model (safetensors, GGUF, checkpoints) is a flat list of names such
as ``model.layers.3.self_attn.q_proj.weight`` or ``blk.3.attn_q.weight``. Split on
``.`` and ``/`` they form a tree: ``model › layers › 3 › self_attn › q_proj``. A node
with eight or more numbered children (``layers.0`` … ``layers.31``) is a repeated
block, labelled ``layers.0 … layers.31 ×32`` as the graph view labels numbered scopes;
``uniform`` says whether every block holds the same tensors with the same shapes
(the usual transformer), which the viewer states so one block stands for all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from netray import dtypes
from netray.ir import Tensor

SEPARATORS = re.compile(r"[./]")
REPEAT_MIN = 8  # as netray.hierarchy's NUMBERED_SERIES_MIN


@dataclass(eq=False)
class TensorNode:
    """One level of the module path: its tensors and its sub-modules, with totals."""

    name: str  # this level's own name ("layers", "3", "q_proj")
    path: str  # the joined prefix, with the names' own separators ("model.layers.3")
    children: dict[str, TensorNode] = field(default_factory=dict)
    tensors: list[tuple[str, Tensor]] = field(default_factory=list)  # (full name, tensor) ending here
    parameters: int = 0
    bytes: int = 0
    count: int = 0  # tensors at and below this level
    repeat: int = 0  # numbered children when this level is a repeated block (>= REPEAT_MIN)
    uniform: bool = False

    @property
    def label(self) -> str:
        if self.repeat:
            keys = list(self.children)
            return f"{self.name}.{keys[0]} … {self.name}.{keys[-1]} ×{self.repeat}"
        return self.name

    def walk(self) -> Iterable[TensorNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children.values())))


def _bytes_of(t: Tensor) -> int:
    if t.byte_size is not None:
        return t.byte_size
    return dtypes.byte_size(t.dtype, t.size) or 0


def _signature(node: TensorNode) -> tuple[tuple[str, str | None, object], ...]:
    """What a block holds, relative to it: names below it, dtypes and shapes."""
    cut = len(node.path) + 1
    return tuple(sorted((name[cut:], t.dtype, t.shape) for sub in node.walk() for name, t in sub.tensors))


def _finish(node: TensorNode) -> None:
    """Totals bottom-up and repeated blocks marked, without recursion (deep paths are possible)."""
    order = list(node.walk())
    for n in reversed(order):
        n.count = len(n.tensors) + sum(c.count for c in n.children.values())
        n.parameters = sum(t.size or 0 for _, t in n.tensors) + sum(c.parameters for c in n.children.values())
        n.bytes = sum(_bytes_of(t) for _, t in n.tensors) + sum(c.bytes for c in n.children.values())
        numbered = [k for k in n.children if k.isdigit()]
        if len(numbered) >= REPEAT_MIN and len(numbered) == len(n.children) and not n.tensors:
            n.children = dict(sorted(n.children.items(), key=lambda kv: int(kv[0])))
            n.repeat = len(numbered)
            first = _signature(next(iter(n.children.values())))
            n.uniform = all(_signature(c) == first for c in n.children.values())


def tensor_tree(tensors: Iterable[tuple[str, Tensor]]) -> TensorNode:
    """The tree of ``tensors`` (name, tensor) by module path, in their order, totals filled."""
    root = TensorNode("", "")
    for name, tensor in tensors:
        node = root
        parts = [p for p in SEPARATORS.split(name) if p] or [name]
        start = 0
        for part in parts[:-1]:
            start = name.find(part, start) + len(part)
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = TensorNode(part, name[:start])
            node = child
        node.tensors.append((name, tensor))
    _finish(root)
    return root
