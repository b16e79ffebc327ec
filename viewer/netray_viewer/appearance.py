"""Applying the View settings: what a change means for the window, and the theme everywhere.

A change of what boxes show, of folding or of the direction lays the graph out again,
keeping what is at the view's centre in place; edge shapes only repaint; a theme
reaches the canvas, the minimap, the panel's histograms, the banner and Qt's palette
(docks, menus, dialogs). "Follow the system" takes the desktop's colour scheme, and
follows it when it changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netray_viewer.theme import Theme, apply_application_palette, system_theme_name, theme_named

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

BANNER = {"dark": ("#4a3f12", "#f3e2a0"), "light": ("#fff3c4", "#5a4500")}  # background, text


def theme_for(setting: str) -> Theme:
    """The theme a setting ("light", "dark" or "system") stands for now."""
    return theme_named(system_theme_name() if setting == "system" else setting)


class Appearance:
    """The window's View settings and theme, applied."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def change(self, **changes: Any) -> None:
        """Change View settings (remembered); a change of what boxes show or of the direction lays out again."""
        w = self.window
        old = w.view_settings
        new = old.with_(**changes)
        if new == old:
            w.commands.refresh()
            return
        w.view_settings = new
        new.save(w.settings)
        if new.theme != old.theme:
            self.apply(theme_for(new.theme))
        painter = w.canvas.scene_painter
        if new.show_edge_shapes != old.show_edge_shapes and painter is not None:
            painter.show_edge_labels = new.show_edge_shapes
            w.canvas.item.update()
        if new.layout != old.layout and w.level is not None:
            w.set_expanded(w.level.expanded, keep_view=True)
        w.commands.refresh()

    def system_changed(self) -> None:
        """The desktop switched between light and dark: follow it if asked to."""
        if self.window.view_settings.theme == "system":
            self.apply(theme_for("system"))

    def apply(self, theme: Theme) -> None:
        w = self.window
        w.theme = theme
        apply_application_palette(theme)
        self.style_widgets()
        # Qt gives links their colour when the panel's text is set: set it again in the new palette.
        if w.selected is not None:
            w.select_ref(*w.selected)
        elif w.model is not None and w.navigation is not None and w.navigation.has_graph:
            w.show_model_properties()

    def style_widgets(self) -> None:
        """Every themed part of the window in the current theme."""
        w = self.window
        background, text = BANNER["dark" if w.theme.name == "dark" else "light"]
        w.inferred_banner.setStyleSheet(f"QLabel {{ background: {background}; color: {text}; padding: 4px 8px; }}")
        w.canvas.set_theme(w.theme)
        w.panel.apply_theme(w.theme)
        w.overlays.apply_theme()
        w.minimap.set_painter(w.canvas.scene_painter)
        w.place_minimap()
