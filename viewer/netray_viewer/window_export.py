"""Pictures of what the window shows: File › Export (PNG, SVG, PDF), Copy Image, and one group's picture.

The picture is the scene on screen, as it is: the groups the user expanded, the
direction, the theme and the View settings (names, attributes, weights, edge
shapes, folded constants), the metric it is coloured by with its legend, at full
detail whatever the zoom. PNG and PDF come from the window's own painter
(:mod:`netray_viewer.export`), SVG from the core's writer (:mod:`netray.svg`), which
keeps text as text, or from Qt's SVG painter when the graph is coloured by a metric. A group's picture is its frame and
what it holds, laid out with the group expanded if it is collapsed on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox

from netray.atomic import replacing
from netray.hierarchy import Group
from netray.palette import palette_named
from netray.scene import ItemKind, Scene
from netray.svg import scene_svg
from netray_viewer.export import Overlay, pdf_bytes, png_bytes, png_image, svg_bytes
from netray_viewer.theme import Theme

if TYPE_CHECKING:
    from netray_viewer.window import MainWindow

FILTERS = {".png": "PNG image (*.png)", ".svg": "SVG drawing (*.svg)", ".pdf": "PDF document (*.pdf)"}


def picture_bytes(scene: Scene, fmt: str, theme: Theme, title: str, edge_labels: bool, overlay: Overlay | None = None) -> bytes:
    """``scene`` as ``fmt`` bytes, drawn as the window draws it (coloured by ``overlay``'s metric if given)."""
    if fmt == ".svg":
        if overlay is not None:
            return svg_bytes(scene, theme, title, edge_labels, overlay)
        return scene_svg(scene, palette_named(theme.name), title, edge_labels=edge_labels)
    if fmt == ".png":
        return png_bytes(scene, theme, edge_labels, overlay)
    if fmt == ".pdf":
        return pdf_bytes(scene, theme, title, edge_labels, overlay)
    raise ValueError(f"not a picture format: {fmt!r}")


def window_overlay(window: MainWindow, scene: Scene) -> Overlay | None:
    """The metric the window colours the graph by (None: usual colours), with the hierarchy of ``scene``'s graph."""
    metric = window.overlays.state.metric
    if metric is None:
        return None
    level = window.level
    return Overlay(metric, level.hierarchy if level is not None and level.graph is scene.graph else None)


def write_picture(scene: Scene, path: str | Path, theme: Theme, title: str, edge_labels: bool, overlay: Overlay | None = None) -> Path:
    """Write ``scene`` to ``path`` (its extension picks the format), beside it first and renamed into place."""
    target = Path(path)
    data = picture_bytes(scene, target.suffix.lower(), theme, title, edge_labels, overlay)
    with replacing(target) as tmp:
        tmp.write_bytes(data)
    return target


def default_name(window: MainWindow, fmt: str, suffix: str = "") -> str:
    model = window.model
    stem = model.source.stem if model is not None and model.source is not None else "graph"
    folder = Path(str(window.settings.value("export_dir", "") or Path.home()))
    return str(folder / f"{stem}{suffix}{fmt}")


def ask_and_export(window: MainWindow, scene: Scene, fmt: str, suffix: str = "") -> Path | None:
    """Ask where, then write; errors become a message. Returns the file written."""
    path, _ = QFileDialog.getSaveFileName(window, "Export picture", default_name(window, fmt, suffix), FILTERS[fmt])
    if not path:
        return None
    if not Path(path).suffix:
        path += fmt
    return export_to(window, scene, path)


def export_to(window: MainWindow, scene: Scene, path: str | Path) -> Path | None:
    """Write ``scene`` as the window shows it to ``path``; errors become a message."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        written = write_picture(
            scene, path, window.theme, window.title_text(), window.view_settings.show_edge_shapes, window_overlay(window, scene)
        )
    except (OSError, ValueError, MemoryError) as exc:
        QMessageBox.warning(window, "netray — cannot export", f"{path}: {exc}")
        return None
    finally:
        QApplication.restoreOverrideCursor()
    window.settings.setValue("export_dir", str(Path(written).resolve().parent))
    window.status_label.setText(f"Wrote {written}")
    return written


def copy_image(window: MainWindow, scene: Scene) -> None:
    """The whole picture (as PNG would hold it) on the clipboard."""
    image = png_image(scene, window.theme, window.view_settings.show_edge_shapes, window_overlay(window, scene))
    clipboard = QGuiApplication.clipboard()
    if clipboard is not None:
        clipboard.setImage(image)
        window.status_label.setText(f"Copied a {image.width()}×{image.height()} picture")


def group_scene(window: MainWindow, group: Group) -> Scene | None:
    """The group's frame and contents: from the scene on screen if expanded, else laid out expanded."""
    scene = window.scene
    level = window.level
    if scene is None or level is None:
        return None
    item = scene.item_of(group)
    if item is None or scene.kind[item] != ItemKind.FRAME:
        expanded = level.expanded | {group.id} | {g.id for g in group.walk() if g.id in level.expanded}
        scene = level.cache(window.view_settings.layout).scene(frozenset(expanded))
        item = scene.item_of(group)
        if item is None:
            return None
    return scene.within(item)
