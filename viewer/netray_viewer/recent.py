"""File › Recent files: the last models opened, kept in QSettings, newest first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QMenu

MAX_RECENT = 10


class RecentFiles:
    """The list in ``settings`` (key ``recent``) and the menu that shows it."""

    def __init__(self, settings: QSettings, menu: QMenu, open_file: Callable[[str], Any]) -> None:
        self.settings = settings
        self.menu = menu
        self.open_file = open_file
        self.refresh()

    def paths(self) -> list[str]:
        value = self.settings.value("recent", []) or []
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    def remember(self, path: Path) -> None:
        """``path`` goes first (once); the folder is where File › Open starts next time."""
        resolved = str(path.resolve())
        recent = [p for p in self.paths() if p != resolved]
        recent.insert(0, resolved)
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.settings.setValue("last_dir", str(path.resolve().parent))
        self.refresh()

    def refresh(self) -> None:
        self.menu.clear()
        for path in self.paths():
            action = self.menu.addAction(path)
            if action is not None:
                action.triggered.connect(lambda _=False, p=path: self.open_file(p))
        self.menu.setEnabled(bool(self.paths()))
