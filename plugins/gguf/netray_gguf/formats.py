"""The format the GGUF plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "GGUF"

# Versions this plugin reads: 2 and 3 use 64-bit counts and lengths (version 1, the 2023
# pre-release with 32-bit ones, is gone from llama.cpp and from the gguf package).
SUPPORTED_VERSIONS = (2, 3)

FORMATS = [
    FormatInfo(
        FORMAT,
        (".gguf",),
        "llama.cpp / ggml model file: typed key/values and (quantized) tensors",
        magic=(b"GGUF",),
        # A shard of a split model (<prefix>-00002-of-00005.gguf) opens every shard of the split.
        companions=("*-?????-of-?????.gguf",),
        runs_with='llama.cpp (pip install llama-cpp-python)',
    )
]
