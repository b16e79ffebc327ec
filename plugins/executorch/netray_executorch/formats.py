"""The format the ExecuTorch plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "ExecuTorch"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".pte",),
        "ExecuTorch program: a Program flatbuffer (identifier ET12) with its constant, delegate and named-data segments after it",
        magic=((4, b"ET12"),),
        runs_with="ExecuTorch's runtime (pip install executorch)",
    )
]
