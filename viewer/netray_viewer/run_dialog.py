"""Run…: the inputs of a run (random with a seed, a ``.npy``/``.npz``, or an image), named dimensions and options.

The dialog only gathers choices; :meth:`RunDialog.options` turns them into a
:class:`netray.run.RunOptions` that the window runs in the background. Choices are
remembered (QSettings ``run/…``) for the next run. Whether the runtime can compute
gradients is known only once it is asked: a runtime that cannot says so when the run
fails, in a message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from netray.run import RunOptions
from netray.run_inputs import IMAGE_SUFFIXES
from netray_viewer.dimensions import dimension_boxes

IMAGENET_MEAN = "0.485, 0.456, 0.406"
IMAGENET_STD = "0.229, 0.224, 0.225"
IMAGE_FILTER = "Images (" + " ".join(f"*{suffix}" for suffix in IMAGE_SUFFIXES) + ");;All files (*)"  # what the engine reads
ARRAY_FILTER = "Arrays (*.npy *.npz);;All files (*)"
COMPARE_NONE, COMPARE_REFERENCE, COMPARE_FILE = "none", "reference", "file"


def parse_floats(text: str) -> tuple[float, ...]:
    """``"0.485, 0.456 0.406"`` -> the numbers; a ValueError names what is not one."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise ValueError("give at least one number")
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"not numbers: {text!r}") from None


class RunDialog(QDialog):
    """Inputs, named dimensions, backward and compare; :meth:`options` when accepted."""

    def __init__(self, dims: dict[str, int], settings: QSettings | None = None, onnx: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("netray — run the model")
        self.settings = settings
        column = QVBoxLayout(self)
        note = QLabel(
            "Runs the model once with its format's runtime, captures every value the graph names, "
            "and colours the graph by what happened (Metric menu)."
        )
        note.setWordWrap(True)
        column.addWidget(note)

        # -- inputs --
        inputs = QGroupBox("Inputs")
        form = QFormLayout(inputs)
        self.source = QButtonGroup(self)
        self.random = QRadioButton("Random, seed")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(self._remembered("seed", 0)))
        form.addRow(self.random, self.seed)
        self.file = QRadioButton("Arrays (.npy, .npz)")
        self.file_path, file_row = self._path_row(ARRAY_FILTER, "arrays")
        form.addRow(self.file, file_row)
        self.image = QRadioButton("Image")
        self.image_path, image_row = self._path_row(IMAGE_FILTER, "image")
        form.addRow(self.image, image_row)
        self.mean = QLineEdit(str(self._remembered("mean", IMAGENET_MEAN)))
        self.mean.setToolTip("Per channel, subtracted from the pixels scaled to [0, 1] (ImageNet's by default)")
        self.std = QLineEdit(str(self._remembered("std", IMAGENET_STD)))
        self.std.setToolTip("Per channel, dividing the pixels after the mean is subtracted")
        form.addRow("    mean", self.mean)
        form.addRow("    std", self.std)
        for k, button in enumerate((self.random, self.file, self.image)):
            self.source.addButton(button, k)
        chosen = str(self._remembered("source", "random"))
        {"file": self.file, "image": self.image}.get(chosen, self.random).setChecked(True)
        self.source.idToggled.connect(lambda _id, _on: self._sync())
        column.addWidget(inputs)

        # -- named dimensions --
        self.dim_boxes: dict[str, QSpinBox] = {}
        if dims:
            box = QGroupBox("Named dimensions")
            self.dim_boxes = dimension_boxes(QFormLayout(box), dims)
            column.addWidget(box)

        # -- options --
        options = QGroupBox("Options")
        options_form = QFormLayout(options)
        self.backward = QCheckBox("Backward: gradients of the sum of the outputs")
        self.backward.setToolTip("Not every runtime computes gradients; one that cannot says so when the run fails")
        self.backward.setChecked(str(self._remembered("backward", "false")).lower() == "true")
        options_form.addRow(self.backward)
        self.compare = QComboBox()
        self.compare.addItem("None", COMPARE_NONE)
        if onnx:
            self.compare.addItem("onnx's reference evaluator", COMPARE_REFERENCE)
        self.compare.addItem("Another file of the same graph", COMPARE_FILE)
        self.compare.setToolTip("Run the same inputs elsewhere and compare every value by name")
        options_form.addRow("Compare with", self.compare)
        self.compare_path, compare_row = self._path_row("Models (*)", "compare")
        options_form.addRow("", compare_row)
        self.compare.currentIndexChanged.connect(lambda _i: self._sync())
        self.runtime = QLineEdit()
        self.runtime.setPlaceholderText("the format's usual runtime")
        self.runtime.setToolTip("A runtime by name, when the format's plugin offers more than one")
        options_form.addRow("Runtime", self.runtime)
        column.addWidget(options)

        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #c0392b; }")
        self.error.setVisible(False)
        column.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText("Run")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self._sync()

    # -- pieces --------------------------------------------------------------------------------
    def _remembered(self, key: str, default: Any) -> Any:
        return self.settings.value(f"run/{key}", default) if self.settings is not None else default

    def _path_row(self, file_filter: str, key: str) -> tuple[QLineEdit, QWidget]:
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        edit = QLineEdit(str(self._remembered(f"{key}_path", "")))
        browse = QPushButton("Browse…")

        def choose() -> None:
            start = edit.text() or str(self._remembered("folder", ""))
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", start, file_filter)
            if path:
                edit.setText(path)

        browse.clicked.connect(choose)
        line.addWidget(edit, 1)
        line.addWidget(browse)
        return edit, row

    def _sync(self) -> None:
        """Fields enabled as the choices need them."""
        self.file_path.parentWidget().setEnabled(self.file.isChecked())  # type: ignore[union-attr]
        self.image_path.parentWidget().setEnabled(self.image.isChecked())  # type: ignore[union-attr]
        self.mean.setEnabled(self.image.isChecked())
        self.std.setEnabled(self.image.isChecked())
        self.seed.setEnabled(not self.file.isChecked())
        self.compare_path.parentWidget().setEnabled(self.compare.currentData() == COMPARE_FILE)  # type: ignore[union-attr]

    # -- the answer ----------------------------------------------------------------------------
    def choose_compare(self, kind: str, path: str = "") -> None:
        """Compare with ``kind`` ("none", "reference", "file" with ``path``), as the user would."""
        index = self.compare.findData(kind)
        if index >= 0:
            self.compare.setCurrentIndex(index)
        self.compare_path.setText(path)

    def options(self) -> RunOptions:
        """The choices as RunOptions; a ValueError says what is missing or malformed."""
        inputs: str | None = None
        mean: tuple[float, ...] = (0.0,)
        std: tuple[float, ...] = (1.0,)
        if self.file.isChecked():
            inputs = self.file_path.text().strip()
            if not inputs:
                raise ValueError("choose a .npy or .npz file of inputs")
        elif self.image.isChecked():
            inputs = self.image_path.text().strip()
            if not inputs:
                raise ValueError("choose an image")
            mean, std = parse_floats(self.mean.text()), parse_floats(self.std.text())
            if any(s == 0 for s in std):
                raise ValueError("std must not be 0")
        compare: str | None = None
        kind = self.compare.currentData()
        if kind == COMPARE_REFERENCE:
            compare = "reference"
        elif kind == COMPARE_FILE:
            compare = self.compare_path.text().strip()
            if not compare:
                raise ValueError("choose the file to compare with")
            if not Path(compare).is_file():
                raise ValueError(f"{compare}: no such file")
        return RunOptions(
            inputs=inputs,
            seed=self.seed.value(),
            dims={name: box.value() for name, box in self.dim_boxes.items()},
            runtime=self.runtime.text().strip(),
            backward=self.backward.isChecked(),
            compare=compare,
            mean=mean,
            std=std,
        )

    def _accept(self) -> None:
        try:
            self.options()
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            return
        self.remember()
        self.accept()

    def remember(self) -> None:
        """The choices, for the next Run…."""
        s = self.settings
        if s is None:
            return
        source = "file" if self.file.isChecked() else "image" if self.image.isChecked() else "random"
        s.setValue("run/source", source)
        s.setValue("run/seed", self.seed.value())
        s.setValue("run/arrays_path", self.file_path.text())
        s.setValue("run/image_path", self.image_path.text())
        s.setValue("run/mean", self.mean.text())
        s.setValue("run/std", self.std.text())
        s.setValue("run/backward", "true" if self.backward.isChecked() else "false")
        s.setValue("run/compare_path", self.compare_path.text())
