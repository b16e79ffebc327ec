"""The formats the ONNX plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "ONNX"
TEXT_FORMAT = "ONNX text"
ORT_FORMAT = "ONNX Runtime"

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
    FormatInfo(
        ORT_FORMAT,
        (".ort",),
        "ONNX Runtime's ORT format: a flatbuffer of an ONNX graph for minimal and mobile builds",
        # The flatbuffer's file identifier, after the 4-byte root offset (ort.fbs: file_identifier "ORTM").
        magic=((4, b"ORTM"),),
        runs_with='onnxruntime, which loads .ort files but cannot return their intermediate values: run the .onnx they were converted from',
    ),
]
