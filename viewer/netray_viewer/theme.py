"""The light and dark themes as QColors, from the core's palettes (:mod:`netray.palette`).

One theme object; the painter, panels and minimap read colours from it so a theme
switch is one assignment and a repaint. The colours themselves live in the core,
so the Qt-free SVG export paints with the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from PyQt6.QtGui import QColor

from netray.palette import Palette, palette_named, rgba


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


def qcolor(colour: str) -> QColor:
    """``#rrggbb`` or ``#rrggbbaa`` as a QColor (Qt's own 8-digit form puts alpha first)."""
    return QColor(*rgba(colour))


def theme_of(palette: Palette) -> Theme:
    colours = {f.name: qcolor(getattr(palette, f.name)) for f in fields(Theme) if f.name not in ("name", "fills", "headers")}
    return Theme(
        name=palette.name,
        fills={k: qcolor(v) for k, v in palette.fills.items()},
        headers={k: qcolor(v) for k, v in palette.headers.items()},
        **colours,
    )


def light_theme() -> Theme:
    return theme_of(palette_named("light"))


def dark_theme() -> Theme:
    return theme_of(palette_named("dark"))


def theme_named(name: str) -> Theme:
    """``"dark"`` or anything else (light)."""
    return theme_of(palette_named(name))


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
    for disabled in (role.ButtonText, role.WindowText, role.Text):
        p.setColor(QPalette.ColorGroup.Disabled, disabled, QColor("#6d7178"))
    app.setPalette(p)


def system_theme_name() -> str:
    """``"dark"`` when the desktop asks for dark colours (Qt 6.5+ reports it), else ``"light"``."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtGui import QGuiApplication

    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hints is not None and hasattr(hints, "colorScheme") else None
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"
