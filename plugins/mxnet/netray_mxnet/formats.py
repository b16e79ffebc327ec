"""The format the MXNet plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "MXNet"

FORMATS = [
    FormatInfo(
        FORMAT,
        ("-symbol.json", ".params"),
        "MXNet symbol graph (*-symbol.json, any version) with *.params weights beside it",
        magic=(b"\x12\x01\x00\x00\x00\x00\x00\x00",),  # NDArray list (0x112, little-endian)
        patterns=(rb'\A\s*\{\s*"nodes"\s*:\s*\[\s*\{\s*"op"',),
        companions=("*-symbol.json", "*.params"),
        runs_with='Apache MXNet (pip install mxnet; the project is retired), or export to ONNX',
    )
]
