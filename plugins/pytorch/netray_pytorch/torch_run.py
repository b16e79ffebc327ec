"""What the torch runtimes (ExportedProgram here, TorchScript in its plugin) share.

Arrays in and out of torch, the backward pass and the hooks that hand each intermediate
value's gradient to ``capture`` as autograd computes it. Imported only when a model is run: it imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from netray.errors import first_line
from netray.runtime import Cancelled, Capture, RunCancelled, RunError

_NUMPY_UNSUPPORTED = {torch.bfloat16: torch.float32}  # numpy has no bfloat16: widened exactly


def to_tensor(array: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A CPU tensor holding a copy of ``array`` (cast to ``dtype`` when the program declares another)."""
    a = np.array(array, copy=True)
    if a.dtype.kind == "U" or a.dtype == object:
        raise RunError(f"torch: an input of dtype {a.dtype} cannot become a tensor")
    t = torch.from_numpy(a)
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    return t


def to_numpy(value: torch.Tensor, copy: bool = False) -> np.ndarray:
    """A tensor's values as numpy (bfloat16 widened; a copy when later in-place ops could change it)."""
    t = value.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_quantized:
        t = t.dequantize()
    wider = _NUMPY_UNSUPPORTED.get(t.dtype)
    if wider is not None:
        return t.to(wider).numpy()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    array = t.numpy()
    return array.copy() if copy else array


def scalar_array(value: Any) -> np.ndarray | None:
    """A Python/torch scalar (a size, a flag) as a 0-d array; None for anything else."""
    if isinstance(value, bool):
        return np.asarray(value)
    if isinstance(value, int):
        return np.asarray(value, dtype=np.int64)
    if isinstance(value, float):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return scalar_array(value.node.hint if hasattr(value.node, "hint") else None)
    return None


def gradients(tensors: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Each tensor's gradient as numpy (a copy), zeros of its dtype where autograd gave none."""
    return {
        name: to_numpy(t.grad, copy=True) if t.grad is not None else np.zeros(tuple(t.shape), dtype=to_numpy(t).dtype)
        for name, t in tensors.items()
    }


def differentiable(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex())


class GradientCapture:
    """Hooks on intermediate tensors that hand ``capture`` the loss's gradient with respect to each.

    A tensor hook sees the gradient of the value as it was when the hook was registered,
    even if an in-place op changes the tensor later. Values that need a gradient but
    receive none (they do not reach the loss) are given zeros by :meth:`finish`."""

    def __init__(self, capture: Capture, cancelled: Cancelled) -> None:
        self.capture = capture
        self.cancelled = cancelled
        self.pending: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
        self.error: BaseException | None = None

    def watch(self, name: str, value: Any) -> None:
        if not differentiable(value) or not value.requires_grad or name in self.pending:
            return
        self.pending[name] = (tuple(value.shape), value.dtype)
        value.register_hook(self._hook(name))

    def _hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor | None) -> None:
            if self.error is not None or grad is None:
                return  # None: autograd's "no gradient" for an unused output of a multi-output op
            try:
                if self.cancelled():
                    raise RunCancelled("cancelled during backward")
                self.pending.pop(name, None)
                self.capture(name, to_numpy(grad, copy=True))
            except BaseException as exc:  # stops autograd; re-raised as it was by reraise()
                self.error = exc
                raise

        return hook

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error

    def backward(self, loss: torch.Tensor, runtime: str, line: Callable[[BaseException], str] = first_line) -> None:
        """``loss.backward()``, then :meth:`finish`. A failure is a RunError naming ``runtime`` in
        ``line``'s words, unless a hook failed first (cancelled, a capture's own error): that is
        raised as it was."""
        try:
            loss.backward()
        except Exception as exc:
            self.reraise()
            raise RunError(f"{runtime}: backward failed: {line(exc)}") from exc
        self.finish()

    def finish(self) -> None:
        """Zeros for the values the loss does not depend on."""
        self.reraise()
        for name, (shape, dtype) in list(self.pending.items()):
            zeros = torch.zeros(shape, dtype=dtype)
            self.capture(name, to_numpy(zeros))
        self.pending.clear()
