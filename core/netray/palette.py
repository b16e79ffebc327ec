"""Colours of the light and dark themes, as hex text (no Qt).

The viewer turns these into QColors (``netray_viewer.theme``); the core's SVG writer
uses them as they are, so a picture exported with or without Qt has the same colours.
Colours are ``#rrggbb`` or, with transparency, ``#rrggbbaa``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CATEGORIES = ("layer", "activation", "normalization", "pool", "shape", "tensor", "control", "quantization", "custom", "other", "group", "io")


def _table(*colours: str) -> dict[str, str]:
    return dict(zip(CATEGORIES, colours, strict=True))


# Box fill per category (the Scene's ``category`` strings), then the header strip (the
# op title band): a stronger tone of the same hue.
_LIGHT_FILLS = _table("#cfe0f7", "#f9d3c4", "#cfeccf", "#d7eef0", "#e4e4e4", "#ece4d4", "#e3d6f3", "#f6ecbc", "#f3d0e4", "#eeeeee", "#f3f5f9", "#ffffff")
_LIGHT_HEADERS = _table("#3d78c9", "#d9603b", "#3e9a4c", "#2f8f99", "#8a8a8a", "#9a7d4a", "#7d55b8", "#b8951d", "#c2508c", "#777777", "#55657f", "#444444")
_DARK_FILLS = _table("#22364f", "#4d2d24", "#23402a", "#1f3f43", "#363636", "#3d3527", "#352a4a", "#443c1c", "#482a3b", "#333333", "#2a2f38", "#252525")
_DARK_HEADERS = _table("#4f8fe0", "#ef7a52", "#55b865", "#45aab4", "#9a9a9a", "#b89a62", "#9a74d6", "#d4b035", "#dc6aa8", "#8a8a8a", "#7b8aa3", "#bbbbbb")


@dataclass(frozen=True)
class Palette:
    """Every colour a graph is painted with."""

    name: str
    background: str
    text: str
    header_text: str
    muted_text: str
    border: str
    edge: str
    control_edge: str
    edge_label: str
    selection: str
    highlight_edge: str
    frame_fill: str  # translucent: frames nest, each darkening the one around it
    frame_border: str
    frame_text: str
    view_rect: str
    fills: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def fill(self, category: str) -> str:
        return self.fills.get(category, self.fills["other"])

    def header(self, category: str) -> str:
        return self.headers.get(category, self.headers["other"])


LIGHT = Palette(
    name="light",
    background="#fafafa",
    text="#1d1d1d",
    header_text="#ffffff",
    muted_text="#555555",
    border="#6d6d6d",
    edge="#5a5a5a",
    control_edge="#9a9a9a",
    edge_label="#606060",
    selection="#ff8c00",
    highlight_edge="#e0700a",
    frame_fill="#5a6e9616",
    frame_border="#9aa6bb",
    frame_text="#4a5670",
    view_rect="#ff8c00",
    fills=_LIGHT_FILLS,
    headers=_LIGHT_HEADERS,
)

DARK = Palette(
    name="dark",
    background="#1b1d21",
    text="#e4e4e4",
    header_text="#101010",
    muted_text="#a8a8a8",
    border="#8a8f98",
    edge="#a9adb4",
    control_edge="#6d7178",
    edge_label="#9da2aa",
    selection="#ffa53a",
    highlight_edge="#ffa53a",
    frame_fill="#8ca0c814",
    frame_border="#5d6a80",
    frame_text="#a6b2c8",
    view_rect="#ffa53a",
    fills=_DARK_FILLS,
    headers=_DARK_HEADERS,
)


def palette_named(name: str) -> Palette:
    """``"dark"`` or anything else (light)."""
    return DARK if name == "dark" else LIGHT


def rgba(colour: str) -> tuple[int, int, int, int]:
    """``#rrggbb`` or ``#rrggbbaa`` as (r, g, b, a), each 0-255."""
    text = colour.lstrip("#")
    alpha = int(text[6:8], 16) if len(text) == 8 else 255
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), alpha


def frame_interior(palette: Palette, nesting: int) -> str:
    """The colour inside ``nesting`` frames: each frame's translucent fill over the one around it."""
    fr, fg, fb, fa = rgba(palette.frame_fill)
    br, bg, bb, _ = rgba(palette.background)
    keep = (1.0 - fa / 255) ** max(nesting, 0)  # what still shows of the background
    mix = [round(b * keep + f * (1 - keep)) for b, f in ((br, fr), (bg, fg), (bb, fb))]
    return "#{:02x}{:02x}{:02x}".format(*mix)
