"""Named dimensions: which a model has, and setting them (``--dim batch=8``, the window's field).

Formats keep a size they do not fix as a name (ONNX's ``batch``, an ExportedProgram's
``s0``); shape inference carries the name through the graph. Setting one replaces it
in every shape of the model, so that shapes, costs and the peak memory follow.
"""

from __future__ import annotations

from collections.abc import Mapping

from netray.errors import FormatError
from netray.ir import Model, Shape, TensorType


def symbolic_dims(model: Model) -> list[str]:
    """The named dimensions of the model's graph inputs, in the order they first appear."""
    names: dict[str, None] = {}
    for graph in model.graphs:
        for value in graph.inputs:
            for d in value.type.shape or ():
                if isinstance(d, str):
                    names.setdefault(d)
    return list(names)


def parse_dims(pairs: list[str] | tuple[str, ...]) -> dict[str, int]:
    """``["batch=8", "seq=128"]`` -> ``{"batch": 8, "seq": 128}``; a malformed pair is a ValueError naming it."""
    dims: dict[str, int] = {}
    for pair in pairs:
        name, sep, size = pair.partition("=")
        if not sep or not name.strip() or not size.strip().isdigit() or int(size) <= 0:
            raise ValueError(f"--dim {pair!r}: expected NAME=SIZE with a positive size, e.g. batch=8")
        dims[name.strip()] = int(size)
    return dims


def _substitute(shape: Shape | None, dims: Mapping[str, int]) -> Shape | None:
    if shape is None or not any(isinstance(d, str) and d in dims for d in shape):
        return shape
    return tuple(dims[d] if isinstance(d, str) and d in dims else d for d in shape)


def apply_dims(model: Model, dims: Mapping[str, int]) -> None:
    """Set named dimensions to sizes in every value of every graph, in place.

    A name the model does not have is an error (a misspelt ``--dim`` must not pass
    silently): FormatError naming the dims the model has.
    """
    known = set(symbolic_dims(model))
    for graph in model.all_graphs():
        for value in graph.values.values():
            for d in value.type.shape or ():
                if isinstance(d, str):
                    known.add(d)
    unknown = sorted(set(dims) - known)
    if unknown:
        have = ", ".join(sorted(known)) or "none"
        raise FormatError(model.source or "<model>", model.format, f"no dimension named {', '.join(unknown)} (named dimensions: {have})")
    for graph in model.all_graphs():
        for value in graph.values.values():
            t = value.type
            shape = _substitute(t.shape, dims)
            if shape is not t.shape:
                value.type = TensorType(t.dtype, shape, t.denotation, t.inferred)
