"""A small numpy runtime for the run tests (engine and viewer alike), registered as a plugin.

It evaluates a few ONNX ops node by node and captures each output, as a real runtime
would; ``skewed`` computes Neg differently (a runtime to compare against), ``grad`` gives
stand-in gradients. Qt-free, so the core's tests use it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

import netray
from netray.ir import Model
from netray.plugins import get_manager
from netray.runtime import Cancelled, Capture, RunCancelled, RunError, RuntimeMissing


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, pads: tuple[int, ...] = (0, 0, 0, 0)) -> np.ndarray:
    """NCHW convolution, stride 1, no dilation or groups: enough for the test models."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, h, width = x.shape
    k, _c, kh, kw = w.shape
    out = np.zeros((n, k, h - kh + 1, width - kw + 1), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i : i + out.shape[2], j : j + out.shape[3]]
            out += np.einsum("nchw,kc->nkhw", patch, w[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out.astype(x.dtype)


def _conv(node: Any, *args: np.ndarray) -> np.ndarray:
    pads = next((tuple(a.value) for a in node.attributes if a.name == "pads"), (0, 0, 0, 0))
    # ONNX pads are (top, left, bottom, right) for 2-D
    return conv2d(args[0], args[1], args[2] if len(args) > 2 else None, pads)


OPS: dict[str, Callable[..., np.ndarray]] = {
    "Conv": _conv,
    "Relu": lambda _n, x: np.maximum(x, 0),
    "Log": lambda _n, x: np.log(x),
    "Neg": lambda _n, x: np.negative(x),
    "Add": lambda _n, a, b: a + b,
    "Mul": lambda _n, a, b: a * b,
    "Gather": lambda _n, table, ids: table[ids],
    "GlobalAveragePool": lambda _n, x: x.mean(axis=(2, 3), keepdims=True),
}


class NumpyRuntime:
    """Evaluates the ops above node by node and captures each output, as a real runtime would."""

    def __init__(self, model: Model, name: str, skew: float = 0.0, backward_supported: bool = False) -> None:
        self.model = model
        self.name = name
        self.skew = skew  # added to every Neg's output: a runtime that computes one op differently
        self.backward_supported = backward_supported

    def _run(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = dict(inputs)
        for node in self.model.main.nodes:
            if cancelled():
                raise RunCancelled("cancelled")
            args = [env[v.name] if v.initializer is None else v.initializer.numpy() for v in node.input_values()]
            with np.errstate(all="ignore"):
                out = OPS[node.op](node, *args)
            if node.op == "Neg":
                out = out + np.float32(self.skew)
            (value,) = node.output_values()
            env[value.name] = out
            capture(value.name, out)
        return env

    def forward(self, inputs: Mapping[str, np.ndarray], capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        env = self._run(inputs, capture, cancelled)
        return {v.name: env[v.name] for v in self.model.main.outputs}

    def backward(self, inputs: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray] | None, capture: Capture, cancelled: Cancelled) -> dict[str, np.ndarray]:
        if not self.backward_supported:
            raise RunError("no gradients here")
        # Not real gradients: twice each value, enough to see them reach the overlay and the panel.
        self._run(inputs, lambda name, array: capture(name, 2 * array), cancelled)
        return {
            v.name: np.ones([int(d or 0) for d in v.initializer.shape])
            for v in self.model.main.values.values()
            if v.initializer is not None and v.initializer.shape
        }


class NumpyPlugin:
    """Offers the runtimes by name only ("numpy", "skewed", "grad", and what :meth:`extra` adds),
    so that the ONNX plugin's onnxruntime answers for "" where it is installed; ``missing``
    makes it say what to install instead."""

    missing = False

    def extra(self, model: Model, name: str) -> object:
        return None

    @netray.hookimpl
    def netray_runtime(self, model: Model, name: str) -> object:
        if self.missing:
            return RuntimeMissing("numpy-runtime", "pip install numpy-runtime")
        if name == "numpy":
            return NumpyRuntime(model, "numpy")
        if name == "skewed":
            return NumpyRuntime(model, "skewed", skew=0.5)
        if name == "grad":
            return NumpyRuntime(model, "grad", backward_supported=True)
        return self.extra(model, name)


@contextlib.contextmanager
def registered(plugin: NumpyPlugin, name: str) -> Iterator[NumpyPlugin]:
    """``plugin`` registered with netray's plugin manager while the block runs."""
    manager = get_manager()
    manager.register(plugin, name)
    try:
        yield plugin
    finally:
        manager.unregister(name)
