"""The loss ``Runtime.backward`` differentiates, for every runtime that differentiates with torch.

ExportedProgram and TorchScript (torch), Keras (on the torch backend) and ONNX (through
onnx2torch) all mean the same by ``--backward`` and ``--target``: the sum of every
floating-point output that depends on a weight or an input (a complex one by magnitude),
or, given a target, the summed squared error of the outputs the target names (the others
left out). It is accumulated in float64, so the gradient reaching each output is exactly
one, or ``2 * (output - target)``, in the output's own dtype.

The core does not depend on torch: this module imports it when called, and only runtimes
that have torch call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from netray.errors import RunError


def torch_loss(outputs: Mapping[str, Any], target: Mapping[str, np.ndarray] | None, runtime: str) -> Any:
    """The loss (a float64 torch scalar) of ``outputs`` (torch tensors by output name); ``runtime``
    names the runtime in a RunError when nothing can be differentiated or a target's shape differs."""
    import torch

    total: Any = None
    for name, out in outputs.items():
        if not (isinstance(out, torch.Tensor) and (out.is_floating_point() or out.is_complex()) and out.requires_grad):
            continue
        value = (out.abs() if out.is_complex() else out).to(torch.float64)
        if target is not None:
            if name not in target:
                continue
            wanted = torch.from_numpy(np.asarray(target[name], dtype=np.float64)).to(value.device)
            if tuple(wanted.shape) != tuple(value.shape):
                raise RunError(f"{runtime}: target {name!r} has shape {tuple(wanted.shape)}, the output {tuple(value.shape)}")
            term = ((value - wanted) ** 2).sum()
        else:
            term = value.sum()
        total = term if total is None else total + term
    if total is None:
        which = "the target's outputs" if target is not None else "the outputs"
        raise RunError(f"{runtime}: no floating-point output among {which} depends on a weight or input: nothing to differentiate")
    return total
