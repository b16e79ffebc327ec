"""The IR's spellings of element types, dimensions, names and attribute values, read into netray's terms.

Element types come two ways: ``element_type="f32"`` on Const and Parameter layers (IR v10+), and
``precision="FP32"`` on ports, layers and blobs (every version). Both map to the names in
:mod:`netray.dtypes`; OpenVINO's own packed types that netray has no name for (``u1``, ``u3``,
``u6``, ``nf4``) are declared here with :func:`netray.dtypes.define`.

Attribute values are text in the XML; :func:`typed` gives them their obvious type (``"1,1"`` is a
list of ints, ``"true"`` a bool, ``"1e-05"`` a float) and leaves the rest as strings.
"""

from __future__ import annotations

import re
from typing import Any

from netray import dtypes
from netray.ir import Dim, MetaValue, Shape

# OpenVINO element type -> netray dtype name. Keys are lower case; both spellings are listed.
_ELEMENT_TYPES: dict[str, str] = {
    "f64": "float64",
    "f32": "float32",
    "f16": "float16",
    "bf16": "bfloat16",
    "f8e4m3": "float8_e4m3fn",
    "f8e5m2": "float8_e5m2",
    "f8e8m0": "float8_e8m0fnu",
    "f4e2m1": "float4_e2m1fn",
    "nf4": "nf4",
    "i64": "int64",
    "i32": "int32",
    "i16": "int16",
    "i8": "int8",
    "i4": "int4",
    "u64": "uint64",
    "u32": "uint32",
    "u16": "uint16",
    "u8": "uint8",
    "u6": "uint6",
    "u4": "uint4",
    "u3": "uint3",
    "u2": "uint2",
    "u1": "uint1",
    "bin": "uint1",
    "boolean": "bool",
    "bool": "bool",
    "string": "string",
}
# Port and blob precisions (``FP32``, ``I64``, ``BIN`` ...), lower-cased, as element types.
_PRECISION_ALIASES: dict[str, str] = {
    "fp64": "f64",
    "fp32": "f32",
    "fp16": "f16",
    "fp8": "f8e4m3",
    "f8e4m3fn": "f8e4m3",
    "q78": "i16",  # Myriad's 16-bit fixed point, stored as int16
}
# Types that say nothing about the values: a port of unknown or mixed type.
_UNKNOWN = {"", "dynamic", "undefined", "unspecified", "mixed", "custom"}

# Bits per element as stored, for the packed types whose size numpy cannot give.
BITS: dict[str, int] = {
    "uint1": 1,
    "uint2": 2,
    "uint3": 3,
    "int4": 4,
    "uint4": 4,
    "nf4": 4,
    "uint6": 6,
    "float4_e2m1fn": 4,
}

# NormalFloat4 (QLoRA): the 16 levels a 4-bit index stands for, as OpenVINO's ov::float4 table.
NF4_LEVELS = (
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
)


def define_packed_types() -> None:
    """Declare OpenVINO's packed types netray has no name for (idempotent)."""
    if dtypes.lookup("uint1") is None:
        dtypes.define(
            dtypes.DType(
                "uint1",
                1,
                "uint",
                "uint8",
                doc="1-bit unsigned, eight per byte (OpenVINO u1, first element in the high bit)",
            )
        )
    if dtypes.lookup("nf4") is None:
        dtypes.define(
            dtypes.DType(
                "nf4",
                4,
                "block",
                "float32",
                block_size=2,
                block_bytes=1,
                doc="NormalFloat4: 4-bit indexes into 16 fixed levels in [-1, 1], two per byte",
            )
        )


def dtype_of(text: str | None) -> str | None:
    """``"f32"``, ``"FP32"``, ``"u1"``, ``"BIN"`` ... -> a netray dtype name; None when unknown or dynamic."""
    if not text:
        return None
    key = text.strip().lower()
    if key in _UNKNOWN:
        return None
    key = _PRECISION_ALIASES.get(key, key)
    return _ELEMENT_TYPES.get(key)


def storage_bytes(dtype: str, count: int) -> int | None:
    """Bytes OpenVINO uses for ``count`` elements of ``dtype`` (packed types pack the whole tensor)."""
    if dtype == "uint3":  # 8 elements in 3 bytes: two bit planes of 2 + 1 bits
        return -(-count // 8) * 3
    if dtype == "uint6":  # 4 elements in 3 bytes: nibbles, then a plane of 2-bit highs
        return -(-count // 4) * 3
    if dtype in BITS:
        return (count * BITS[dtype] + 7) // 8
    if dtype == "string":
        return None
    return dtypes.byte_size(dtype, count)


_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|nan|infinity)$", re.IGNORECASE)
_BOOLS = {"true": True, "false": False}
# Attributes that are lists even when they hold one item (a 1-D convolution's strides="2").
LIST_ATTRIBUTES = frozenset(
    {
        "strides",
        "dilations",
        "pads_begin",
        "pads_end",
        "kernel",
        "output_padding",
        "axes",
        "order",
        "shape",
        "scales",
        "sizes",
    }
    | {"begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask", "ellipsis_mask"}
)


def scalar(text: str) -> bool | int | float | str:
    """One value's obvious type: bool, int, float, or the text itself."""
    s = text.strip()
    low = s.lower()
    if low in _BOOLS:
        return _BOOLS[low]
    if _INT.match(s):
        return int(s)
    if _FLOAT.match(s):
        return float(s)
    return text


def typed(name: str, text: str) -> Any:
    """An attribute's value in its obvious type: ``"1,1"`` -> ``[1, 1]``, ``"0.5,1"`` -> floats, else as :func:`scalar`.

    Lists of numbers (a comma between numbers, spaces allowed) become lists; attributes in
    :data:`LIST_ATTRIBUTES` are lists even with one item or none (a scalar's ``shape=""``).
    """
    s = text.strip()
    if "," in s or (name in LIST_ATTRIBUTES and s != "" and _number(s)) or (name in LIST_ATTRIBUTES and s == ""):
        parts = [p.strip() for p in s.split(",")] if s else []
        values = [scalar(p) for p in parts]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return values
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return [float(v) for v in values]
        return text
    return scalar(text)


def _number(s: str) -> bool:
    return bool(_INT.match(s) or _FLOAT.match(s))


def meta_value(text: str) -> MetaValue:
    """Metadata text typed as a scalar only: ``"True"`` -> True, ``"42"`` -> 42; lists stay text."""
    return scalar(text)


def dim(text: str | None) -> Dim:
    """One ``<dim>``: a size; ``-1`` or ``?`` unknown (None); an interval ``1..10`` kept as text."""
    s = (text or "").strip()
    if _INT.match(s):
        n = int(s)
        return n if n >= 0 else None
    if not s or s == "?":
        return None
    return s


def shape_text_dims(text: str) -> Shape | None:
    """A ``shape="?,1..10,4"`` attribute: ``""`` is a scalar, ``"..."`` an unknown rank."""
    s = text.strip()
    if s in ("...", "?"):
        return None
    if not s:
        return ()
    return tuple(dim(p) for p in s.split(","))


def tensor_names(text: str | None) -> list[str]:
    """A port's ``names="a,b"``; a comma inside a name is written ``\\,``."""
    if not text:
        return []
    names: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt == "," else ch + nxt)
        elif ch == ",":
            names.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    names.append("".join(current).strip())
    return [n for n in names if n]
