"""Storage types of tensors: the names plugins put in ``Tensor.dtype`` and ``TensorType.dtype``.

One table for every format, so that ``netray info`` can add up bytes by type, the
panel can say what a type is, and a diff can compare a GGUF ``q4_k`` weight with an
ONNX ``float16`` one. Three families:

* **numpy's own** (``float32``, ``int8``, ``bool``, ``complex64`` ...): ``Tensor.numpy()``
  returns that dtype. ``string`` tensors come back as an object array of ``str``
  (or ``bytes`` where the file holds bytes).
* **ml_dtypes' types** for what numpy lacks (``bfloat16``, ``float8_e4m3fn``,
  ``float8_e5m2``, ``float4_e2m1fn``, ``int4``, ``uint4``, ``int2``, ``uint2``):
  ``numpy()`` returns an array of the ml_dtypes type, one element per array item
  (sub-byte types unpacked), where ml_dtypes is installed; a plugin without
  ml_dtypes returns the values widened to ``float32`` (float types) or ``int8``/
  ``uint8`` (integer types). ``byte_size`` counts the packed bytes.
* **block formats** (GGUF's ``q4_0`` ... ``q6_k``, ``iq4_nl``, ``mxfp4``): elements are
  stored in blocks that carry their own scales. ``numpy()`` returns the dequantized
  values as ``float32`` in the tensor's logical shape; ``Tensor.quantization`` names
  the scheme and block size. A block type the plugin cannot dequantize raises
  ``FormatError`` from ``numpy()`` saying so.

Other names (``resource``, ``variant``, ``dtype123``) are opaque: shown, never computed
with. A plugin may :func:`define` a type of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DType:
    """One storage type: ``bits`` per element as stored (fractional for block formats)."""

    name: str
    bits: float
    kind: str  # "bool", "int", "uint", "float", "complex", "string", "block", "opaque"
    returns: str  # the dtype Tensor.numpy() gives for it
    block_size: int = 1  # elements per block (block formats)
    block_bytes: int = 0  # bytes per block (block formats)
    doc: str = ""


def _numpy_types() -> list[DType]:
    out = [DType("bool", 8, "bool", "bool", doc="one byte per element")]
    for bits in (8, 16, 32, 64):
        out.append(DType(f"int{bits}", bits, "int", f"int{bits}"))
        out.append(DType(f"uint{bits}", bits, "uint", f"uint{bits}"))
    for bits in (16, 32, 64):
        out.append(DType(f"float{bits}", bits, "float", f"float{bits}"))
    out.append(DType("complex64", 64, "complex", "complex64"))
    out.append(DType("complex128", 128, "complex", "complex128"))
    out.append(DType("string", 0, "string", "object", doc="variable-length strings or bytes"))
    return out


_ML_DTYPES = [
    DType("bfloat16", 16, "float", "bfloat16", doc="brain float: float32's exponent, 7-bit mantissa"),
    DType("float8_e4m3fn", 8, "float", "float8_e4m3fn", doc="8-bit float, 4 exponent bits, no infinities"),
    DType("float8_e4m3fnuz", 8, "float", "float8_e4m3fnuz", doc="8-bit float, 4 exponent bits, no infinities or negative zero"),
    DType("float8_e4m3b11fnuz", 8, "float", "float8_e4m3b11fnuz", doc="8-bit float, exponent bias 11"),
    DType("float8_e5m2", 8, "float", "float8_e5m2", doc="8-bit float, 5 exponent bits"),
    DType("float8_e5m2fnuz", 8, "float", "float8_e5m2fnuz", doc="8-bit float, 5 exponent bits, no infinities or negative zero"),
    DType("float8_e8m0fnu", 8, "float", "float8_e8m0fnu", doc="8-bit power-of-two scale (MX formats)"),
    DType("float6_e2m3fn", 6, "float", "float6_e2m3fn", doc="6-bit float (MX formats)"),
    DType("float6_e3m2fn", 6, "float", "float6_e3m2fn", doc="6-bit float (MX formats)"),
    DType("float4_e2m1fn", 4, "float", "float4_e2m1fn", doc="4-bit float (MX formats, NVFP4)"),
    DType("int4", 4, "int", "int4", doc="4-bit signed integers, two per byte"),
    DType("uint4", 4, "uint", "uint4", doc="4-bit unsigned integers, two per byte"),
    DType("int2", 2, "int", "int2", doc="2-bit signed integers, four per byte"),
    DType("uint2", 2, "uint", "uint2", doc="2-bit unsigned integers, four per byte"),
]
# Unsigned integers of other widths (Core ML palettes, OpenVINO u1/u3/u6): unpacked into uint8.
_NARROW_UINTS = [DType(f"uint{bits}", bits, "uint", "uint8", doc=f"{bits}-bit unsigned integers, packed") for bits in (1, 3, 5, 6, 7)]


def _block(name: str, block_size: int, block_bytes: int, doc: str) -> DType:
    return DType(name, block_bytes * 8 / block_size, "block", "float32", block_size, block_bytes, doc)


# ggml's block types (llama.cpp, ggml-common.h): elements per block, bytes per block.
_GGML_BLOCKS = [
    _block("q4_0", 32, 18, "4-bit, one fp16 scale per 32"),
    _block("q4_1", 32, 20, "4-bit, fp16 scale and minimum per 32"),
    _block("q5_0", 32, 22, "5-bit, one fp16 scale per 32"),
    _block("q5_1", 32, 24, "5-bit, fp16 scale and minimum per 32"),
    _block("q8_0", 32, 34, "8-bit, one fp16 scale per 32"),
    _block("q8_1", 32, 36, "8-bit, fp16 scale and sum per 32"),
    _block("q2_k", 256, 84, "k-quant: 2-bit in super-blocks of 256 with 4-bit sub-block scales"),
    _block("q3_k", 256, 110, "k-quant: 3-bit in super-blocks of 256 with 6-bit sub-block scales"),
    _block("q4_k", 256, 144, "k-quant: 4-bit in super-blocks of 256 with 6-bit sub-block scales and minimums"),
    _block("q5_k", 256, 176, "k-quant: 5-bit in super-blocks of 256 with 6-bit sub-block scales and minimums"),
    _block("q6_k", 256, 210, "k-quant: 6-bit in super-blocks of 256 with 8-bit sub-block scales"),
    _block("q8_k", 256, 292, "k-quant: 8-bit in super-blocks of 256 (intermediate type)"),
    _block("iq2_xxs", 256, 66, "i-quant: 2.06 bits per weight from a lattice codebook"),
    _block("iq2_xs", 256, 74, "i-quant: 2.31 bits per weight"),
    _block("iq2_s", 256, 82, "i-quant: 2.56 bits per weight"),
    _block("iq3_xxs", 256, 98, "i-quant: 3.06 bits per weight"),
    _block("iq3_s", 256, 110, "i-quant: 3.44 bits per weight"),
    _block("iq1_s", 256, 50, "i-quant: 1.56 bits per weight"),
    _block("iq1_m", 256, 56, "i-quant: 1.75 bits per weight"),
    _block("iq4_nl", 32, 18, "i-quant: 4-bit non-linear, one fp16 scale per 32"),
    _block("iq4_xs", 256, 136, "i-quant: 4-bit non-linear in super-blocks of 256"),
    _block("tq1_0", 256, 54, "ternary: 1.69 bits per weight"),
    _block("tq2_0", 256, 66, "ternary: 2.06 bits per weight"),
    _block("mxfp4", 32, 17, "MX 4-bit float, one e8m0 scale per 32"),
    _block("nvfp4", 64, 36, "NVIDIA 4-bit float, fp8 scales per 16 in blocks of 64"),
    _block("q1_0", 128, 18, "1-bit, one fp16 scale per 128"),
]

_TABLE: dict[str, DType] = {t.name: t for t in (*_numpy_types(), *_ML_DTYPES, *_NARROW_UINTS, *_GGML_BLOCKS)}


def define(dtype: DType) -> None:
    """Add a storage type of a plugin's own (an existing name is replaced)."""
    _TABLE[dtype.name] = dtype


def lookup(name: str | None) -> DType | None:
    """The type called ``name``; None for an unknown or opaque name."""
    return _TABLE.get(name) if name else None


def names() -> list[str]:
    return list(_TABLE)


def byte_size(name: str | None, count: int | None) -> int | None:
    """Bytes ``count`` elements of ``name`` take stored (packed; whole blocks), or None if unknown.

    Sub-byte types are counted as a dense bit stream padded to a byte; a format may pad more
    (OpenVINO packs ``uint3`` in groups of eight), so plugins give ``Tensor.byte_size`` themselves.
    """
    t = lookup(name)
    if t is None or count is None or t.bits == 0:
        return None
    if t.kind == "block":
        return -(-count // t.block_size) * t.block_bytes
    return (count * int(t.bits) + 7) // 8


def numpy_dtype(name: str | None) -> Any:
    """The numpy dtype for ``name`` (ml_dtypes' types where ml_dtypes is installed); None if there is none.

    Block formats have none: their values come dequantized as float32.
    """
    t = lookup(name)
    if t is None or t.kind in ("block", "opaque"):
        return None
    import numpy as np

    if t.kind == "string":
        return np.dtype(object)
    try:
        return np.dtype(t.returns)
    except TypeError:
        pass
    try:
        import ml_dtypes  # optional: ships with onnx, jax and tensorflow
    except ImportError:
        return None
    kind = getattr(ml_dtypes, t.returns, None)
    return np.dtype(kind) if kind is not None else None
