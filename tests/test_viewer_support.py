"""Shared helpers for the window tests: windows with private settings, menus by their labels, clicks.

No tests here; the test modules wrap these in their own fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QMenu, QMessageBox

from netray.ir import Node
from netray_viewer.window import MainWindow

LAYOUT_TIMEOUT_S = 30


def capture_warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Warnings the window shows, captured instead of blocking in a modal dialog."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: shown.append(text))
    return shown


def window_factory(qtbot: Any, folder: Path) -> Callable[..., MainWindow]:
    """``make(expand, settings_file=None, **view)``: a shown window; ``view`` pre-sets View settings."""

    def make(expand: str = "all", settings_file: Path | None = None, size: tuple[int, int] = (1200, 800), **view: Any) -> MainWindow:
        settings = QSettings(str(settings_file or folder / "settings.ini"), QSettings.Format.IniFormat)
        for key, value in view.items():
            settings.setValue(f"view/{key}", value)
        window = MainWindow(expand=expand, settings=settings)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


def open_and_wait(window: MainWindow, path: Path) -> None:
    assert window.open_file(path, block=True, timeout_s=LAYOUT_TIMEOUT_S)
    assert window.scene is not None


def settle(window: MainWindow) -> None:
    assert window.wait_until_idle(LAYOUT_TIMEOUT_S)


def node_named(window: MainWindow, name: str) -> Node:
    assert window.model is not None
    for graph in window.model.all_graphs():
        for node in graph.nodes:
            if node.name == name:
                return node
    raise AssertionError(f"no node named {name!r}")


def menu_action(window: MainWindow, *path: str) -> QAction:
    """The action at ``path`` in the window's menu bar, by labels without their ``&`` (e.g. "View", "Show Names")."""
    actions = window.menuBar().actions()  # type: ignore[union-attr]
    found: QAction | None = None
    for label in path:
        found = next((a for a in actions if a.text().replace("&", "") == label), None)
        assert found is not None, f"no menu item {label!r} among {[a.text() for a in actions]}"
        menu = found.menu()
        actions = menu.actions() if isinstance(menu, QMenu) else []
    assert found is not None
    return found


def trigger(window: MainWindow, *path: str) -> None:
    """Choose a menu item as a user does: enabled, from its menu."""
    action = menu_action(window, *path)
    assert action.isEnabled(), f"{' › '.join(path)} is disabled"
    action.trigger()


def item_point(window: MainWindow, i: int) -> QPoint:
    """Widget pixel position inside an item's title band, away from any marker."""
    s = window.scene
    assert s is not None
    x = float(s.x[i] + min(s.w[i] / 2, 20))
    y = float(s.y[i] + min(s.h[i] / 2, 10))
    return window.canvas.map_to_widget(x, y).toPoint()


def show_item(window: MainWindow, i: int, zoom: float = 1.0) -> None:
    s = window.scene
    assert s is not None
    window.canvas.centre_on(float(s.x[i] + s.w[i] / 2), float(s.y[i] + s.h[i] / 2), min_zoom=zoom)


def click(qtbot: Any, window: MainWindow, pos: QPoint, button: Qt.MouseButton = Qt.MouseButton.LeftButton, double: bool = False) -> None:
    viewport = window.canvas.viewport()
    if double:
        qtbot.mouseClick(viewport, button, pos=pos)
        qtbot.mouseDClick(viewport, button, pos=pos)
        qtbot.mouseRelease(viewport, button, pos=pos)
    else:
        qtbot.mouseClick(viewport, button, pos=pos)


def view_centre(window: MainWindow) -> tuple[float, float]:
    c = window.canvas.view_box.viewRect().center()
    return c.x(), c.y()
