"""The properties dock: whatever was clicked (node, edge, group or the model)."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QTextDocument
from PyQt6.QtWidgets import QDockWidget, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from netray.ir import Node, Tensor
from netray_viewer.weights import WeightView

MAX_WEIGHT_VIEWS = 16  # a node with more weights lists the rest in its Inputs table only


class PropertiesPanel(QDockWidget):
    """Rich text with links, followed by one WeightView per weight of a node."""

    link_activated = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Properties", parent)
        self.setObjectName("properties")
        self.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(8, 6, 8, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.label.setOpenExternalLinks(False)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.linkActivated.connect(self.link_activated.emit)
        self._layout.addWidget(self.label)
        self.weights_title = QLabel("<h4 style='margin-bottom:0'>Weights</h4>")
        self._layout.addWidget(self.weights_title)
        self.weights_box = QVBoxLayout()
        self._layout.addLayout(self.weights_box)
        self._layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        # Text wraps to the panel's width; it never scrolls sideways.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        scroll.setWidget(body)
        self.setWidget(scroll)
        self.setMinimumWidth(300)
        self.weight_views: list[WeightView] = []
        self.show_html("")

    def show_html(self, html: str, node: Node | None = None, tensors: list[tuple[str, Tensor]] | None = None) -> None:
        """Replace the panel's content; list ``node``'s weights (or the given tensors) below the text."""
        self.label.setText(html)
        for view in self.weight_views:
            self.weights_box.removeWidget(view)
            view.deleteLater()
        self.weight_views = []
        shown = list(tensors or [])
        if node is not None:
            shown += [(v.name, v.initializer) for v in node.weights() if v.initializer is not None]
        for name, tensor in shown[:MAX_WEIGHT_VIEWS]:
            view = WeightView(name, tensor)
            self.weights_box.addWidget(view)
            self.weight_views.append(view)
        self.weights_title.setVisible(bool(self.weight_views))

    def plain_text(self) -> str:
        """The panel's text without markup, for tests and copying."""
        doc = QTextDocument()
        doc.setHtml(self.label.text())
        texts = [doc.toPlainText().replace("\u200b", "")]
        for view in self.weight_views:
            doc.setHtml(view.header.text())
            texts.append(doc.toPlainText())
            texts.append(view.status.text())
        return "\n".join(texts)
