"""Packed sub-byte integers, unpacked with numpy (no per-element Python loop).

Two bit orders occur in Core ML: NeuralNetwork's quantized ``rawValue`` packs each value's bits
most significant first into a big-endian bit stream (coremltools ``quantization_utils``), while
MIL blob files put value ``i`` at bits ``[n*i, n*i+n)`` counted from each byte's least
significant bit (``MILBlob/SubByteTypes.cpp``).

Widths numpy and ml_dtypes lack (1, 3, 5, 6, 7 bits) are defined as netray dtypes whose values
come back as ``uint8``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netray import dtypes

_EXTRA_WIDTHS = (1, 3, 5, 6, 7)


def define_dtypes() -> None:
    """Add ``uint1``, ``uint3``, ``uint5``, ``uint6``, ``uint7`` to netray's dtype table (once)."""
    for bits in _EXTRA_WIDTHS:
        name = f"uint{bits}"
        if dtypes.lookup(name) is None:
            dtypes.define(
                dtypes.DType(name, bits, "uint", "uint8", doc=f"{bits}-bit unsigned integers, packed; read as uint8")
            )


def uint_dtype(bits: int) -> str:
    """The netray dtype name of ``bits``-bit unsigned storage."""
    return "uint8" if bits == 8 else f"uint{bits}"


def unpack(raw: np.ndarray, bits: int, count: int, lsb_first: bool) -> np.ndarray:
    """``count`` unsigned ``bits``-bit values packed in the uint8 array ``raw``, as uint8."""
    if bits == 8:
        return raw[:count].copy()
    if 8 % bits == 0:  # whole values per byte: shift and mask each byte
        per_byte = 8 // bits
        shifts = np.arange(per_byte, dtype=np.uint8) * bits
        if not lsb_first:
            shifts = shifts[::-1].copy()
        values = (raw[:, None] >> shifts) & np.uint8((1 << bits) - 1)
        return values.reshape(-1)[:count]
    order: Any = "little" if lsb_first else "big"
    stream = np.unpackbits(raw, bitorder=order)[: count * bits].reshape(count, bits)
    weights = (
        (1 << np.arange(bits, dtype=np.uint16)) if lsb_first else (1 << np.arange(bits - 1, -1, -1, dtype=np.uint16))
    )
    return (stream.astype(np.uint16) @ weights).astype(np.uint8)


def as_dtype(values: np.ndarray, name: str, signed_bits: int = 0) -> np.ndarray:
    """Unpacked uint8 values as the array ``Tensor.numpy()`` gives for the dtype ``name``.

    ``signed_bits`` sign-extends two's-complement values of that width first (int4).
    """
    if signed_bits:
        wide = values.astype(np.int16)
        wide[wide >= 1 << (signed_bits - 1)] -= 1 << signed_bits
        values = wide.astype(np.int8)
    target = dtypes.numpy_dtype(name)
    return values.astype(target) if target is not None and values.dtype != target else values
