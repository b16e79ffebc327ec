"""Running a TFLite model with ai-edge-litert's interpreter, every tensor kept (contract 1.2).

One interpreter per runtime, built with ``experimental_preserve_all_tensors=True`` so that
after ``invoke`` every tensor the model names still holds what its operator wrote. The
interpreter runs TFLite's builtin kernels without the default (XNNPACK) delegate: a delegate
replaces whole partitions of the graph by one node whose inner tensors are never written,
so intermediate values would be missing. The outputs are therefore those of a plain
interpreter with the same kernels (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``);
a default interpreter with XNNPACK may differ from them in the last bits.

Values are read by tensor index (the reader keeps each value's index in
``Value.metadata["tensor_index"]``; the interpreter numbers the main subgraph's tensors as
the file does). Quantized tensors are captured as the **stored integers** the kernels
computed (int8/uint8/int16/int32), not dequantized: that is exactly what the runtime holds,
and the value's ``quantization`` (scale, zero point) in the IR says how to read them.

TFLite has no gradients, so :meth:`LiteRtRuntime.backward` raises :class:`RunError`.
Opening a file never imports ai-edge-litert; only running does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from netray import Model, Value
from netray.errors import first_line
from netray.runtime import Cancelled, Capture, RunCancelled, RunError

RUNTIME = "litert"
PACKAGE = "ai-edge-litert"
INSTALL = "pip install netray-plugin-tflite[run]"

NO_GRADIENTS = (
    "litert: TFLite has no gradients; convert the model's source (Keras, PyTorch or ONNX) to run backward there"
)


def interpreter_class() -> Any | None:
    """ai-edge-litert's Interpreter, or None when the package is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def tensor_index(value: Value) -> int | None:
    raw = value.metadata.get("tensor_index")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class LiteRtRuntime:
    """A TFLite model loaded into ai-edge-litert's interpreter, all tensors preserved."""

    name = RUNTIME
    backward_supported = False
    quantized_values = "stored integers"  # quantized tensors are captured as the integers the kernels wrote

    def __init__(self, model: Model) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if model.source is None:
            raise RunError("litert: the model has no source file to load")
        self.path = Path(model.source)
        self.graph = model.main
        try:
            self.interpreter = Interpreter(
                model_path=str(self.path),
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                experimental_preserve_all_tensors=True,
            )
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise RunError(f"litert: cannot load {self.path.name}: {first_line(exc, named=False)}") from exc
        # (value, tensor index) of each value an operator of the main graph writes, in execution order.
        self.produced: list[tuple[Value, int]] = []
        seen: set[str] = set()
        for node in self.graph.nodes:
            for value in node.output_values():
                index = tensor_index(value)
                if index is not None and value.initializer is None and value.name not in seen:
                    seen.add(value.name)
                    self.produced.append((value, index))
        self.inputs: list[tuple[Value, int]] = []
        for value in self.graph.inputs:
            index = tensor_index(value)
            if index is None:
                raise RunError(f"litert: input {value.name!r} has no tensor index in the graph")
            self.inputs.append((value, index))

    # -- running ----------------------------------------------------------------------
    def set_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        details = {d["index"]: d for d in self.interpreter.get_input_details()}
        resized = False
        arrays: list[tuple[int, np.ndarray]] = []
        for value, index in self.inputs:
            if value.name not in inputs:
                raise RunError(f"litert: no array given for input {value.name!r}")
            array = np.asarray(inputs[value.name])
            detail = details.get(index)
            if detail is None:
                raise RunError(f"litert: tensor {index} ({value.name!r}) is not an input of the interpreter")
            expected = np.dtype(detail["dtype"])
            if array.dtype != expected:
                if expected.kind in "OSU" or not np.can_cast(array.dtype, expected, "same_kind"):
                    raise RunError(f"litert: input {value.name!r} is {array.dtype}, the model wants {expected}")
                array = array.astype(expected)
            if tuple(array.shape) != tuple(int(d) for d in detail["shape"]):
                self.interpreter.resize_tensor_input(index, list(array.shape), strict=False)
                resized = True
            arrays.append((index, array))
        if resized:
            try:
                self.interpreter.allocate_tensors()
            except (RuntimeError, ValueError) as exc:
                raise RunError(f"litert: the inputs' shapes do not fit the model: {first_line(exc, named=False)}") from exc
        for index, array in arrays:
            try:
                self.interpreter.set_tensor(index, np.ascontiguousarray(array))
            except ValueError as exc:
                raise RunError(f"litert: cannot set input tensor {index}: {first_line(exc, named=False)}") from exc

    def invoke(self, inputs: Mapping[str, np.ndarray], cancelled: Cancelled) -> None:
        if cancelled():
            raise RunCancelled("litert: cancelled")
        self.set_inputs(inputs)
        try:
            self.interpreter.invoke()
        except (RuntimeError, ValueError) as exc:
            raise RunError(f"litert: {self.path.name}: {first_line(exc, named=False)}") from exc
        if cancelled():
            raise RunCancelled("litert: cancelled")

    def read(self, value: Value, index: int) -> np.ndarray:
        try:
            return np.asarray(self.interpreter.get_tensor(index))
        except (RuntimeError, ValueError) as exc:
            raise RunError(f"litert: cannot read tensor {index} ({value.name!r}): {first_line(exc, named=False)}") from exc

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        """Invoke once; then hand every operator's output to ``capture`` in execution order."""
        self.invoke(inputs, cancelled)
        for value, index in self.produced:
            if cancelled():
                raise RunCancelled("litert: cancelled")
            capture(value.name, self.read(value, index))
        outputs: dict[str, np.ndarray] = {}
        for value in self.graph.outputs:
            position = tensor_index(value)
            if position is None:
                raise RunError(f"litert: output {value.name!r} has no tensor index in the graph")
            outputs[value.name] = self.read(value, position)
        return outputs

    def backward(
        self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled
    ) -> dict[str, np.ndarray]:
        raise RunError(NO_GRADIENTS)


