"""The path from the main graph to the subgraph on screen: main › If_3 › then_branch."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class Breadcrumbs(QWidget):
    """One flat button per level; clicking one goes back to that level."""

    level_chosen = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(6, 2, 6, 2)
        self._layout.setSpacing(2)
        self.buttons: list[QPushButton] = []
        self._layout.addStretch(1)

    def set_path(self, labels: list[str]) -> None:
        """Show ``labels`` (main first); hidden while only the main graph is open."""
        while self._layout.count() > 1:
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.buttons = []
        for depth, label in enumerate(labels):
            if depth:
                self._layout.insertWidget(self._layout.count() - 1, QLabel("›"))
            button = QPushButton(label)
            button.setFlat(True)
            button.setEnabled(depth < len(labels) - 1)  # the current level is not a link
            button.clicked.connect(lambda _=False, d=depth: self.level_chosen.emit(d))
            self._layout.insertWidget(self._layout.count() - 1, button)
            self.buttons.append(button)
        self.setVisible(len(labels) > 1)
