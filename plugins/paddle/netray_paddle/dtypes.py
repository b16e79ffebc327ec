"""Paddle's element types as netray dtype names: VarType.Type numbers (ProgramDesc, TensorDesc) and PIR type ids."""

from __future__ import annotations

# VarType.Type (framework.proto) -> netray dtype name
VAR_DTYPES: dict[int, str] = {
    0: "bool",
    1: "int16",
    2: "int32",
    3: "int64",
    4: "float16",
    5: "float32",
    6: "float64",
    19: "uint64",  # SIZE_T
    20: "uint8",
    21: "int8",
    22: "bfloat16",
    23: "complex64",
    24: "complex128",
    32: "float8_e4m3fn",
    33: "float8_e5m2",
    36: "uint16",
    37: "uint32",
    38: "uint64",
}

# PIR builtin type names (after the dialect prefix "0.") -> netray dtype name
PIR_DTYPES: dict[str, str] = {
    "t_bool": "bool",
    "t_i8": "int8",
    "t_ui8": "uint8",
    "t_i16": "int16",
    "t_ui16": "uint16",
    "t_i32": "int32",
    "t_ui32": "uint32",
    "t_i64": "int64",
    "t_ui64": "uint64",
    "t_f16": "float16",
    "t_bf16": "bfloat16",
    "t_f32": "float32",
    "t_f64": "float64",
    "t_c64": "complex64",
    "t_c128": "complex128",
    "t_f8e4m3fn": "float8_e4m3fn",
    "t_f8e5m2": "float8_e5m2",
}

# phi::DataTypeToString names (PIR's a_dtype attributes) -> netray dtype name
PHI_DTYPES: dict[str, str] = {
    "bool": "bool",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "float16": "float16",
    "bfloat16": "bfloat16",
    "float32": "float32",
    "float64": "float64",
    "complex64": "complex64",
    "complex128": "complex128",
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2": "float8_e5m2",
}
