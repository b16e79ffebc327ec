"""Named dimensions: which a model has, and setting them (``--dim batch=8``, the window's field).

Formats keep a size they do not fix as a name (ONNX's ``batch``, an ExportedProgram's
``s0``); shape inference carries the name through the graph. Setting one replaces it
in every shape of the model, so that shapes, costs and the peak memory follow.
"""

from __future__ import annotations

from collections.abc import Mapping

from netray.dim_expressions import dim_names, evaluate
from netray.errors import FormatError
from netray.ir import Model, Shape, TensorType


def symbolic_dims(model: Model) -> list[str]:
    """The named dimensions of the model's graph inputs, in the order they first appear (the
    names an expression uses, for ``2*s0``)."""
    names: dict[str, None] = {}
    for graph in model.graphs:
        for value in graph.inputs:
            for d in value.type.shape or ():
                if isinstance(d, str):
                    for name in dim_names(d) or (d,):
                        names.setdefault(name)
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
    """``shape`` with the names ``dims`` gives replaced, and expressions whose names it gives
    all evaluated (``2*s27 - 1`` with s27=5 is 9); ``shape`` itself when nothing changes."""
    if shape is None:
        return shape
    out = tuple(_size(d, dims) if isinstance(d, str) else d for d in shape)
    return shape if out == shape else out


def _size(d: str, dims: Mapping[str, int]) -> int | str:
    if d in dims:
        return dims[d]
    names = dim_names(d)
    if names and all(n in dims for n in names):
        size = evaluate(d, dims)
        if size is not None:
            return size
    return d


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
                    known.update(dim_names(d))
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
