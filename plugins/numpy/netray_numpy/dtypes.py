"""numpy dtypes as netray dtype names, and the arrays ``Tensor.numpy()`` gives for them.

``netray.dtypes`` defines what ``numpy()`` returns for each name: numbers and bools in the
machine's byte order, ``"string"`` as an object array of ``str`` (or ``bytes``). Types netray
does not compute with keep numpy's own name and come back as numpy stores them:
``datetime64[ns]``, ``timedelta64[s]``, ``float128`` (x86's long double), raw ``void64``,
and ``"struct"`` for record dtypes, whose fields the tensor's metadata lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netray import MetaValue

OBJECT = "object"
STRUCT = "struct"


def dtype_name(dtype: np.dtype[Any]) -> str:
    """netray's name for the dtype a .npy header states (byte order aside)."""
    if dtype.hasobject:
        return OBJECT
    if dtype.names is not None:
        return STRUCT
    if dtype.kind in "US":
        return "string"
    return dtype.newbyteorder("=").name if dtype.kind != "V" else dtype.name


def byte_order(dtype: np.dtype[Any]) -> str | None:
    """``"big-endian"`` / ``"little-endian"`` for multi-byte types, None where order does not apply."""
    orders = {leaf.byteorder for leaf in _leaves(dtype) if leaf.itemsize > 1}
    orders.discard("|")
    if not orders:
        return None
    big = {">"} if np.little_endian else {"=", ">"}
    if orders <= big:
        return "big-endian"
    if orders.isdisjoint(big):
        return "little-endian"
    return "mixed"


def _leaves(dtype: np.dtype[Any], depth: int = 0) -> list[np.dtype[Any]]:
    """The scalar types a (record, sub-array) dtype is made of."""
    base = dtype.base
    if base.names is None or depth > 32:
        return [base]
    return [leaf for name in base.names for leaf in _leaves(base.fields[name][0], depth + 1)]  # type: ignore[index]


def fields_of(dtype: np.dtype[Any]) -> list[MetaValue]:
    """Each field of a record dtype as ``name: dtype[shape] @ offset`` (nested records by their descr)."""
    out: list[MetaValue] = []
    for name, (field, offset, *_) in (dtype.fields or {}).items():
        if field.subdtype is not None:
            base, shape = field.subdtype
            text = f"{base.str}[{'x'.join(map(str, shape))}]"
        else:
            text = field.str if field.names is None else str(field.descr)
        out.append(f"{name}: {text} @ {offset}")
    return out


def finish(stored: np.ndarray) -> np.ndarray:
    """The array as ``numpy()`` returns it: numbers in native byte order, strings as objects."""
    dtype = stored.dtype
    if dtype.kind in "US":
        return stored.astype(object)
    if dtype.names is None and not dtype.isnative:
        return stored.astype(dtype.newbyteorder("="))
    return stored
