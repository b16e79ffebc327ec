"""The formats the ncnn plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "ncnn"
FORMAT_BINARY = "ncnn binary"
MAGIC = 7767517
MAGIC_BYTES = MAGIC.to_bytes(4, "little")

FORMATS = [
    FormatInfo(
        FORMAT,
        (".param",),
        "ncnn network (.param text, magic 7767517) with its .bin weights beside it",
        patterns=(rb"\A\s*7767517\s",),
        companions=("{stem}.bin",),
        runs_with='ncnn (pip install ncnn)',
    ),
    FormatInfo(
        FORMAT_BINARY,
        (".param.bin",),
        "ncnn network as binary param (.param.bin: little-endian ints) with its .bin weights beside it",
        magic=(MAGIC_BYTES,),
        companions=("*.bin",),
        runs_with='ncnn (pip install ncnn)',
    ),
]
