"""The View menu's settings, remembered between runs in QSettings.

Netron's Show Attributes, Weights and Names toggles, edge shapes, the layout
direction, the theme (light, dark or the system's) and whether constants fold into
their consumers. :class:`LayoutOptions` is the part that changes boxes and
positions: a change there lays the graph out again; the others only repaint.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from PyQt6.QtCore import QSettings

from netray.labels import DEFAULT_TEXT, BoxText

THEMES = ("light", "dark", "system")
DIRECTIONS = ("TB", "LR")


@dataclass(frozen=True)
class LayoutOptions:
    """What the layout depends on besides the graph and its expansion."""

    direction: str = "TB"
    fold_constants: bool = True
    text: BoxText = DEFAULT_TEXT


@dataclass(frozen=True)
class ViewSettings:
    """Every View setting; defaults are Netron's (attributes and weights shown, names not, constants folded)."""

    show_names: bool = False
    show_attributes: bool = True
    show_weights: bool = True
    show_edge_shapes: bool = True
    direction: str = "TB"
    theme: str = "light"
    fold_constants: bool = True

    @property
    def layout(self) -> LayoutOptions:
        text = BoxText(names=self.show_names, attributes=self.show_attributes, weights=self.show_weights)
        return LayoutOptions(self.direction, self.fold_constants, text)

    def with_(self, **changes: Any) -> ViewSettings:
        return replace(self, **changes).checked()

    def checked(self) -> ViewSettings:
        """The same settings with unknown values (an old or hand-edited settings file) replaced by defaults."""
        default = ViewSettings()
        return replace(
            self,
            direction=self.direction if self.direction in DIRECTIONS else default.direction,
            theme=self.theme if self.theme in THEMES else default.theme,
        )

    @classmethod
    def load(cls, settings: QSettings, theme: str | None = None) -> ViewSettings:
        """Read from ``settings`` (group ``view``); ``theme`` (a command-line choice) wins over the stored one."""
        values: dict[str, Any] = {}
        default = cls()
        for f in fields(cls):
            stored = settings.value(f"view/{f.name}")
            if stored is None and f.name == "theme":
                stored = settings.value("theme")  # where earlier versions kept it
            if stored is None:
                continue
            current = getattr(default, f.name)
            values[f.name] = _as_bool(stored) if isinstance(current, bool) else str(stored)
        if theme is not None:
            values["theme"] = theme
        return cls(**values).checked()

    def save(self, settings: QSettings) -> None:
        for f in fields(self):
            settings.setValue(f"view/{f.name}", getattr(self, f.name))


def _as_bool(value: Any) -> bool:
    """QSettings' INI files give back "true"/"false" strings for booleans."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


DEFAULT_LAYOUT = LayoutOptions()
