"""The formats the safetensors plugin reads, declared as data (no reader imported).

The core builds its install hints from this file, so it imports nothing but netray.
"""

from netray import FormatInfo

FORMAT = "safetensors"
INDEX_FORMAT = "safetensors index"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".safetensors",),
        "safetensors weights: 8-byte header length, JSON header of tensors, raw little-endian data",
        # The header's length is a little-endian u64 below the format's 100 MB limit (its last
        # four bytes are zero), then the JSON object opens: `{"name": ...` or `{}` when empty.
        patterns=(rb"\A[\s\S]{4}\x00\x00\x00\x00\{\s*[\"}]",),
        # A shard that an index beside it lists opens the index's whole model.
        companions=("*.safetensors.index.json",),
    ),
    FormatInfo(
        INDEX_FORMAT,
        ("model.safetensors.index.json", ".safetensors.index.json"),
        "sharded safetensors model: an index JSON whose weight_map names the shard of each tensor",
        patterns=(rb"\"weight_map\"\s*:\s*\{\s*\"[^\"]*\"\s*:\s*\"[^\"]*\.safetensors\"",),
        companions=("*.safetensors",),
    ),
]
