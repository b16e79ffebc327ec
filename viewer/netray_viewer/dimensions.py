"""View › Dimensions…: a number for each named dimension of the model's inputs (``batch``, ``sequence``).

Applied, every shape that names the dimension takes the number, so edge labels,
the panel's shapes and the costs follow.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

MAX_DIM = 2**31 - 1


def dimension_boxes(form: QFormLayout, values: dict[str, int]) -> dict[str, QSpinBox]:
    """A spin box (1 up) per named dimension, added to ``form`` in the order of ``values``."""
    boxes: dict[str, QSpinBox] = {}
    for name, value in values.items():
        box = QSpinBox()
        box.setRange(1, MAX_DIM)
        box.setValue(int(value))
        box.setAccessibleName(name)
        form.addRow(name, box)
        boxes[name] = box
    return boxes


class DimensionsDialog(QDialog):
    """One spin box per named dimension, starting at its current number."""

    def __init__(self, names: list[str], values: dict[str, int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("netray — dimensions")
        column = QVBoxLayout(self)
        note = QLabel("Named dimensions of the model's inputs. Shapes and costs use these numbers.")
        note.setWordWrap(True)
        column.addWidget(note)
        form = QFormLayout()
        self.boxes = dimension_boxes(form, {name: values.get(name, 1) for name in names})
        column.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText("Apply")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)

    def values(self) -> dict[str, int]:
        return {name: box.value() for name, box in self.boxes.items()}
