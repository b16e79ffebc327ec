"""Back and Forward: the places a user has been, as a browser keeps them (no Qt here).

A :class:`Place` is what the screen showed: which graph (its path from the main
graph), which groups were expanded, where the view was and what was selected. The
window records the place it leaves before every move a user would want to undo: a
search jump, a followed link, entering or leaving a subgraph, expanding or
collapsing groups. Back returns to the last recorded place and keeps the one it
leaves for Forward; a new move clears Forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_PLACES = 200

ViewRect = tuple[float, float, float, float]  # x, y, width, height in scene units


@dataclass(frozen=True)
class Place:
    path: tuple[tuple[str, int], ...]  # from the main graph: (node id, subgraph index) per step
    expanded: frozenset[str]
    view: ViewRect | None
    selected: tuple[str, Any] | None  # ("node" | "value" | "group", the object)


class History:
    """Two stacks of places: behind (Back) and ahead (Forward)."""

    def __init__(self) -> None:
        self.behind: list[Place] = []
        self.ahead: list[Place] = []

    @property
    def can_go_back(self) -> bool:
        return bool(self.behind)

    @property
    def can_go_forward(self) -> bool:
        return bool(self.ahead)

    def record(self, left: Place) -> None:
        """A move away from ``left``: it becomes the place Back returns to; Forward is forgotten."""
        if self.behind and self.behind[-1] == left:
            return
        self.behind.append(left)
        del self.behind[:-MAX_PLACES]
        self.ahead.clear()

    def back(self, current: Place) -> Place | None:
        """The place to return to, keeping ``current`` for Forward; None at the start."""
        if not self.behind:
            return None
        self.ahead.append(current)
        return self.behind.pop()

    def forward(self, current: Place) -> Place | None:
        """The place Back left, keeping ``current`` for Back; None when nothing lies ahead."""
        if not self.ahead:
            return None
        self.behind.append(current)
        return self.ahead.pop()

    def clear(self) -> None:
        self.behind.clear()
        self.ahead.clear()
