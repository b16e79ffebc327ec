"""A group of operations (:class:`Group`): a box the viewer collapses into one summary box or
expands into a frame around its members; :mod:`netray.hierarchy` builds the tree of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class Group:
    """A box that can be collapsed (one summary box) or expanded (a frame around its members).

    ``nodes`` are indices into ``graph.nodes`` of the ops directly in this group;
    ``start``/``end`` delimit the group's ops (all levels) in :attr:`Hierarchy.order`.
    """

    id: str
    label: str
    kind: str  # "root" | "scope" | "repeat" | "chain"
    parent: Group | None = None
    children: list[Group] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)
    depth: int = 0
    op_count: int = 0
    parameters: int = 0
    top_ops: list[tuple[str, int]] = field(default_factory=list)
    start: int = 0
    end: int = 0
    folded: int = 0  # the last ``folded`` of ``nodes`` are foldable constants

    @property
    def member_count(self) -> int:
        """Boxes shown when this group is expanded (its direct ops and child groups)."""
        return len(self.nodes) + len(self.children)

    def walk(self) -> Iterable[Group]:
        """This group and every group below it, parents before children."""
        stack = [self]
        while stack:
            g = stack.pop()
            yield g
            stack.extend(reversed(g.children))

    def __repr__(self) -> str:
        return f"Group({self.id!r}, {self.kind}, {self.op_count} ops)"
