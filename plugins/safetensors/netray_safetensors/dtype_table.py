"""The element types a safetensors header names, and the netray dtype each one is.

The codes are those of the reference implementation's ``Dtype`` enum (huggingface/safetensors,
``safetensors/src/tensor.rs``), whose ``bitsize`` gives the bits one element takes. All data is
little-endian. A code not listed here is kept as an opaque name: shown, never computed with.
"""

from __future__ import annotations

from dataclasses import dataclass

from netray import dtypes


@dataclass(frozen=True)
class StDType:
    """One safetensors element type: its code in the header, netray's name for it, bits per element."""

    code: str
    name: str
    bits: int
    packing: str = "plain"  # "plain": whole bytes per element; "nibbles": two 4-bit values a byte; "bits6": 6-bit


_TYPES = [
    StDType("BOOL", "bool", 8),
    StDType("U8", "uint8", 8),
    StDType("I8", "int8", 8),
    StDType("U16", "uint16", 16),
    StDType("I16", "int16", 16),
    StDType("U32", "uint32", 32),
    StDType("I32", "int32", 32),
    StDType("U64", "uint64", 64),
    StDType("I64", "int64", 64),
    StDType("F16", "float16", 16),
    StDType("BF16", "bfloat16", 16),
    StDType("F32", "float32", 32),
    StDType("F64", "float64", 64),
    StDType("C64", "complex64", 64),  # two float32 parts
    StDType("F8_E4M3", "float8_e4m3fn", 8),  # torch.float8_e4m3fn
    StDType("F8_E5M2", "float8_e5m2", 8),
    StDType("F8_E4M3FNUZ", "float8_e4m3fnuz", 8),
    StDType("F8_E5M2FNUZ", "float8_e5m2fnuz", 8),
    StDType("F8_E8M0", "float8_e8m0fnu", 8),  # MX block scales: powers of two
    StDType("F4", "float4_e2m1fn", 4, "nibbles"),  # torch.float4_e2m1fn_x2 bytes, the header counts elements
    StDType("F6_E2M3", "float6_e2m3fn", 6, "bits6"),
    StDType("F6_E3M2", "float6_e3m2fn", 6, "bits6"),
]

BY_CODE: dict[str, StDType] = {t.code: t for t in _TYPES}


def opaque_name(code: str) -> str:
    """netray's name for a code safetensors does not define: the code itself, unless netray
    knows that word as a type of its own (a header saying ``"float32"``), which would then
    pass for a readable type."""
    return code if dtypes.lookup(code) is None else f"safetensors:{code}"


def netray_name(code: str) -> str:
    known = BY_CODE.get(code)
    return known.name if known is not None else opaque_name(code)
