"""The formats the ONNX plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "ONNX"
TEXT_FORMAT = "ONNX text"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".onnx", ".pb"),
        "Open Neural Network Exchange model (protobuf)",
        # ModelProto's field 1 (ir_version, a varint of 1..64) comes first in every exporter's output.
        patterns=(rb"\A\x08[\x01-\x40]",),
    ),
    FormatInfo(
        TEXT_FORMAT,
        (".onnxtxt", ".onnxtext"),
        "ONNX model in the textual syntax of onnx.parser",
        patterns=(rb"\A\s*<[^>]*ir_version",),
    ),
]
