"""Guessing a module's type from the names and shapes of its weights (state_dicts carry no types)."""

from __future__ import annotations

from netray import Category
from netray_pytorch.unpickler import PickledTensor


def guess_module(weights: dict[str, PickledTensor]) -> tuple[str, Category]:
    """An op name and colour for a module holding ``weights`` (e.g. Conv2d, Linear, BatchNorm)."""
    names = set(weights)
    weight = weights.get("weight")
    if "running_mean" in names or "running_var" in names:
        return "BatchNorm", Category.NORMALIZATION
    if {"in_proj_weight"} & names or {"q_proj_weight", "k_proj_weight"} <= names:
        return "MultiheadAttention", Category.LAYER
    if any(n.startswith(("weight_ih", "weight_hh")) for n in names):
        return "RNN", Category.LAYER
    if weight is not None:
        rank = len(weight.shape)
        if rank in (3, 4, 5):
            return f"Conv{rank - 2}d", Category.LAYER
        if rank == 2:
            return "Linear", Category.LAYER
        if rank == 1:
            return "Norm", Category.NORMALIZATION
    if weight is None and names and all(n in ("bias",) for n in names):
        return "Bias", Category.LAYER
    return "Module", Category.OTHER
