"""The properties dock: whatever was clicked (node, edge, group, tensor or the model).

From the top: the text (rich text with links to producers, consumers and subgraphs),
then what the last run saw of the values (:mod:`netray_viewer.run_panel`), then the weights (statistics, histogram, values), then the operator's documentation,
folded under its title and rendered from its markdown (tables, lists, code). Text
wraps to the panel's width, long names anywhere they must, so nothing widens the
panel or is clipped at its edge; what a user copies is the text as shown.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QPoint, QSize, QSizeF, Qt, QUrl, pyqtSignal
from PyQt6.QtGui import QHelpEvent, QTextDocument, QTextOption
from PyQt6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from netray.ir import Tensor
from netray_viewer.theme import Theme
from netray_viewer.weights import WeightView

MAX_WEIGHT_VIEWS = 16  # a node with more weights lists the rest in its Inputs table only


class PanelText(QTextBrowser):
    """Rich text as tall as its content (the panel scrolls, not the text), wrapping anywhere it must."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        viewport = self.viewport()
        if viewport is not None:
            viewport.setAutoFillBackground(False)
        layout = self.document().documentLayout()  # type: ignore[union-attr]
        if layout is not None:
            layout.documentSizeChanged.connect(self._fit)

    def _fit(self, size: QSizeF | None = None) -> None:
        height = (size or self.document().size()).height()  # type: ignore[union-attr]
        self.setFixedHeight(int(height) + 2 * self.frameWidth() + 2)

    def resizeEvent(self, e: object) -> None:
        super().resizeEvent(e)  # type: ignore[arg-type]
        self._fit()

    def sizeHint(self) -> QSize:
        return QSize(280, self.height())

    def tooltip_at(self, pos: QPoint) -> str:
        """The tooltip of the text at ``pos`` (viewport pixels): HTML ``title`` attributes, e.g. who inferred a shape."""
        return self.cursorForPosition(pos).charFormat().toolTip()

    def viewportEvent(self, event: QEvent | None) -> bool:
        if event is not None and event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            tip = self.tooltip_at(event.pos())
            if tip:
                QToolTip.showText(event.globalPos(), tip, self)
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, self.height())


class PropertiesPanel(QDockWidget):
    """Text with links, then one WeightView per weight, then the folded documentation."""

    link_activated = pyqtSignal(str)
    docs_toggled = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Properties", parent)
        self.setObjectName("properties")
        self.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(8, 6, 8, 6)
        self.text = PanelText()
        self.text.anchorClicked.connect(lambda url: self.link_activated.emit(url.toString()))
        self._layout.addWidget(self.text)
        self.run_box = QVBoxLayout()
        self._layout.addLayout(self.run_box)
        self.weights_title = QLabel("<h4 style='margin-bottom:0'>Weights</h4>")
        self._layout.addWidget(self.weights_title)
        self.weights_box = QVBoxLayout()
        self._layout.addLayout(self.weights_box)
        self.docs_button = QToolButton()
        self.docs_button.setText("Documentation")
        self.docs_button.setCheckable(True)
        self.docs_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.docs_button.setArrowType(Qt.ArrowType.RightArrow)
        self.docs_button.setAutoRaise(True)
        self.docs_button.toggled.connect(self._docs_toggled)
        self._layout.addWidget(self.docs_button)
        self.docs = PanelText()
        self.docs.anchorClicked.connect(self._open_external)
        self._layout.addWidget(self.docs)
        self._layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        # Text wraps to the panel's width; it never scrolls sideways.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.scroll_area = scroll
        self.setWidget(scroll)
        self.setMinimumWidth(300)
        self.weight_views: list[WeightView] = []
        self.run_views: list[QWidget] = []
        self.theme: Theme | None = None
        self.show_html("")

    # -- content ------------------------------------------------------------------------
    def show_html(
        self, html: str, tensors: list[tuple[str, Tensor]] | None = None, docs: str = "", run_views: list[QWidget] | None = None
    ) -> None:
        """Replace the panel's content: ``html``, then ``run_views`` (a run's values), then views of
        ``tensors``, then ``docs`` (markdown), folded."""
        self.text.setHtml(html)
        for old in self.run_views:
            self.run_box.removeWidget(old)
            old.deleteLater()
        self.run_views = list(run_views or [])
        for view in self.run_views:
            self.run_box.addWidget(view)
        for view in self.weight_views:
            self.weights_box.removeWidget(view)
            view.deleteLater()
        self.weight_views = []
        for name, tensor in (tensors or [])[:MAX_WEIGHT_VIEWS]:
            view = WeightView(name, tensor, self.theme)
            self.weights_box.addWidget(view)
            self.weight_views.append(view)
        self.weights_title.setVisible(bool(self.weight_views))
        self.docs.setMarkdown(docs)
        self.docs_button.setVisible(bool(docs))
        self.docs.setVisible(bool(docs) and self.docs_button.isChecked())
        self.scroll_area.verticalScrollBar().setValue(0)  # type: ignore[union-attr]

    def html(self) -> str:
        """The panel's text as HTML (tests look for links in it)."""
        return self.text.toHtml()

    def plain_text(self) -> str:
        """The panel's text without markup: what a user sees and copies."""
        texts = [self.text.toPlainText()]
        for run_view in self.run_views:
            text = getattr(run_view, "plain_text", None)
            if callable(text):
                texts.append(text())
        for view in self.weight_views:
            doc = QTextDocument()
            doc.setHtml(view.header.text())
            texts.append(doc.toPlainText())
            texts.append(view.status.text())
        if self.docs.isVisible():
            texts.append(self.docs.toPlainText())
        return "\n".join(texts)

    def follow(self, link: str) -> None:
        """Activate ``link`` as a click on it would."""
        self.text.anchorClicked.emit(QUrl(link))

    # -- documentation ---------------------------------------------------------------------
    @property
    def docs_open(self) -> bool:
        return self.docs_button.isChecked()

    def set_docs_open(self, open_: bool) -> None:
        self.docs_button.setChecked(open_)

    def _docs_toggled(self, open_: bool) -> None:
        self.docs_button.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.docs.setVisible(open_ and self.docs_button.isVisible() and bool(self.docs.toPlainText()))
        self.docs_toggled.emit(open_)

    def _open_external(self, url: QUrl) -> None:
        from PyQt6.QtGui import QDesktopServices

        if url.scheme() in ("http", "https"):
            QDesktopServices.openUrl(url)

    # -- theme ---------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        """Weights' histograms (drawn or still to be) in the theme's colours."""
        self.theme = theme
        for view in self.weight_views:
            view.apply_theme(theme)
        for run_view in self.run_views:
            apply = getattr(run_view, "apply_theme", None)
            if callable(apply):
                apply(theme)
