"""ggml tensor types as netray storage types, from the gguf package's own tables.

Plain types map to numpy's and ml_dtypes' names (``F16`` -> ``"float16"``, ``BF16`` ->
``"bfloat16"``); block types keep ggml's name in lower case (``Q4_K`` -> ``"q4_k"``), which
is the name :mod:`netray.dtypes` lists them under. A block type the gguf package knows but
netray does not (a newer ggml) is defined in netray's table from gguf's sizes; an id neither
knows is an opaque type, shown but never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from netray import Quantization, dtypes

PLAIN = {
    GGMLQuantizationType.F32: "float32",
    GGMLQuantizationType.F16: "float16",
    GGMLQuantizationType.BF16: "bfloat16",
    GGMLQuantizationType.F64: "float64",
    GGMLQuantizationType.I8: "int8",
    GGMLQuantizationType.I16: "int16",
    GGMLQuantizationType.I32: "int32",
    GGMLQuantizationType.I64: "int64",
}


@dataclass(frozen=True)
class GgmlType:
    """One ggml type: its id and name in ggml, its netray dtype, and its block geometry."""

    id: int
    name: str  # ggml's: "F16", "Q4_K", or "type 99" for an unknown id
    dtype: str  # netray's: "float16", "q4_k", or "ggml_type_99"
    block_size: int = 1  # elements per block (1 for plain types)
    type_size: int = 0  # bytes per block (0: unknown)

    @property
    def known(self) -> bool:
        return self.type_size > 0

    @property
    def plain(self) -> bool:
        return self.id in PLAIN

    @property
    def quant(self) -> GGMLQuantizationType:
        return GGMLQuantizationType(self.id)

    def byte_size(self, elements: int) -> int:
        """Packed bytes of ``elements`` values (a whole number of blocks: checked by the reader)."""
        return elements // self.block_size * self.type_size

    def quantization(self) -> Quantization | None:
        """The block scheme of a quantized type; None for plain and unknown types."""
        if self.plain or not self.known:
            return None
        bits = self.type_size * 8 / self.block_size
        return Quantization(
            scheme=self.dtype,
            block_size=self.block_size,
            details={"block_bytes": self.type_size, "bits_per_weight": round(bits, 4)},
        )


@cache
def ggml_type(type_id: int) -> GgmlType:
    """The type a tensor info's uint32 names."""
    try:
        quant = GGMLQuantizationType(type_id)
    except ValueError:
        return GgmlType(type_id, f"type {type_id}", f"ggml_type_{type_id}")
    block_size, type_size = GGML_QUANT_SIZES[quant]
    plain = PLAIN.get(quant)
    if plain is not None:
        return GgmlType(type_id, quant.name, plain, block_size, type_size)
    name = quant.name.lower()
    known = dtypes.lookup(name)
    if known is not None and known.kind == "block":
        # netray's table follows ggml-common.h; gguf's still gives Q8_1 its old 40-byte block (now 36).
        return GgmlType(type_id, quant.name, name, known.block_size, known.block_bytes)
    if known is None:  # newer than netray's table (nvfp4, q1_0 ...): teach it
        doc = f"ggml block type {quant.name}: {block_size} elements in {type_size} bytes"
        dtypes.define(dtypes.DType(name, type_size * 8 / block_size, "block", "float32", block_size, type_size, doc))
    return GgmlType(type_id, quant.name, name, block_size, type_size)


def file_type_name(value: object) -> str:
    """``general.file_type`` as llama.cpp names it (15 -> ``MOSTLY_Q4_K_M``)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"unknown ({value!r})"
    try:
        return LlamaFileType(value).name
    except ValueError:
        return f"unknown ({value})"
