"""Colour palettes for the light and dark themes.

One palette per theme; the painter, panels and minimap read colours from it so a
theme switch is one assignment and a repaint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PyQt6.QtGui import QColor

# Box fill per category (the Scene's ``category`` strings), light theme.
_LIGHT_FILLS = {
    "layer": "#cfe0f7",
    "activation": "#f9d3c4",
    "normalization": "#cfeccf",
    "pool": "#d7eef0",
    "shape": "#e4e4e4",
    "tensor": "#ece4d4",
    "control": "#e3d6f3",
    "quantization": "#f6ecbc",
    "custom": "#f3d0e4",
    "other": "#eeeeee",
    "group": "#f3f5f9",
    "io": "#ffffff",
}
# Header strip (the op title band) per category: a stronger tone of the same hue.
_LIGHT_HEADERS = {
    "layer": "#3d78c9",
    "activation": "#d9603b",
    "normalization": "#3e9a4c",
    "pool": "#2f8f99",
    "shape": "#8a8a8a",
    "tensor": "#9a7d4a",
    "control": "#7d55b8",
    "quantization": "#b8951d",
    "custom": "#c2508c",
    "other": "#777777",
    "group": "#55657f",
    "io": "#444444",
}
_DARK_FILLS = {
    "layer": "#22364f",
    "activation": "#4d2d24",
    "normalization": "#23402a",
    "pool": "#1f3f43",
    "shape": "#363636",
    "tensor": "#3d3527",
    "control": "#352a4a",
    "quantization": "#443c1c",
    "custom": "#482a3b",
    "other": "#333333",
    "group": "#2a2f38",
    "io": "#252525",
}
_DARK_HEADERS = {
    "layer": "#4f8fe0",
    "activation": "#ef7a52",
    "normalization": "#55b865",
    "pool": "#45aab4",
    "shape": "#9a9a9a",
    "tensor": "#b89a62",
    "control": "#9a74d6",
    "quantization": "#d4b035",
    "custom": "#dc6aa8",
    "other": "#8a8a8a",
    "group": "#7b8aa3",
    "io": "#bbbbbb",
}


@dataclass
class Theme:
    """Every colour the viewer paints with."""

    name: str
    background: QColor
    text: QColor
    header_text: QColor
    muted_text: QColor
    border: QColor
    edge: QColor
    control_edge: QColor
    edge_label: QColor
    selection: QColor
    highlight_edge: QColor
    frame_fill: QColor
    frame_border: QColor
    frame_text: QColor
    view_rect: QColor
    fills: dict[str, QColor] = field(default_factory=dict)
    headers: dict[str, QColor] = field(default_factory=dict)

    def fill(self, category: str) -> QColor:
        return self.fills.get(category, self.fills["other"])

    def header(self, category: str) -> QColor:
        return self.headers.get(category, self.headers["other"])


def _colours(table: dict[str, str]) -> dict[str, QColor]:
    return {k: QColor(v) for k, v in table.items()}


def light_theme() -> Theme:
    return Theme(
        name="light",
        background=QColor("#fafafa"),
        text=QColor("#1d1d1d"),
        header_text=QColor("#ffffff"),
        muted_text=QColor("#555555"),
        border=QColor("#6d6d6d"),
        edge=QColor("#5a5a5a"),
        control_edge=QColor("#9a9a9a"),
        edge_label=QColor("#606060"),
        selection=QColor("#ff8c00"),
        highlight_edge=QColor("#e0700a"),
        frame_fill=QColor(90, 110, 150, 22),
        frame_border=QColor("#9aa6bb"),
        frame_text=QColor("#4a5670"),
        view_rect=QColor("#ff8c00"),
        fills=_colours(_LIGHT_FILLS),
        headers=_colours(_LIGHT_HEADERS),
    )


def dark_theme() -> Theme:
    return Theme(
        name="dark",
        background=QColor("#1b1d21"),
        text=QColor("#e4e4e4"),
        header_text=QColor("#101010"),
        muted_text=QColor("#a8a8a8"),
        border=QColor("#8a8f98"),
        edge=QColor("#a9adb4"),
        control_edge=QColor("#6d7178"),
        edge_label=QColor("#9da2aa"),
        selection=QColor("#ffa53a"),
        highlight_edge=QColor("#ffa53a"),
        frame_fill=QColor(140, 160, 200, 20),
        frame_border=QColor("#5d6a80"),
        frame_text=QColor("#a6b2c8"),
        view_rect=QColor("#ffa53a"),
        fills=_colours(_DARK_FILLS),
        headers=_colours(_DARK_HEADERS),
    )


def theme_named(name: str) -> Theme:
    """``"dark"`` or anything else (light)."""
    return dark_theme() if name == "dark" else light_theme()


def apply_application_palette(theme: Theme) -> None:
    """Give the docks, menus and dialogs colours matching the canvas (Fusion style)."""
    from PyQt6.QtGui import QPalette
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    if app.style() is None or app.style().name().lower() != "fusion":  # type: ignore[union-attr]
        app.setStyle("Fusion")  # re-polishes every widget: only when needed
    if theme.name != "dark":
        app.setPalette(app.style().standardPalette())  # type: ignore[union-attr]
        return
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor("#25282d"))
    p.setColor(role.WindowText, QColor("#e4e4e4"))
    p.setColor(role.Base, QColor("#1e2024"))
    p.setColor(role.AlternateBase, QColor("#2a2d33"))
    p.setColor(role.Text, QColor("#e4e4e4"))
    p.setColor(role.Button, QColor("#2f3238"))
    p.setColor(role.ButtonText, QColor("#e4e4e4"))
    p.setColor(role.ToolTipBase, QColor("#2f3238"))
    p.setColor(role.ToolTipText, QColor("#e4e4e4"))
    p.setColor(role.Highlight, QColor("#3d78c9"))
    p.setColor(role.HighlightedText, QColor("#ffffff"))
    p.setColor(role.Link, QColor("#6ea8ff"))
    p.setColor(role.PlaceholderText, QColor("#8a8f98"))
    p.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, QColor("#c8c8c8"))
    p.setColor(QPalette.ColorGroup.Disabled, role.WindowText, QColor("#8a8f98"))
    app.setPalette(p)
