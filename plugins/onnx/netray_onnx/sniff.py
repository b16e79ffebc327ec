"""Recognising ONNX files by content; the extension is only a hint.

A binary ONNX ModelProto almost always starts with field 1 (``ir_version``,
varint: tag byte 0x08) and holds a graph in field 7. A TensorFlow GraphDef
``.pb`` starts with field 1 as a length-delimited ``node`` (tag 0x0a), which does
not fit ModelProto's field 1, so it is never claimed. A SavedModel's
``saved_model.pb`` also starts with 0x08 but its field 2 is a binary MetaGraphDef,
where ModelProto has a short UTF-8 producer name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from netray_onnx.wire import WireError, read_varint

# ModelProto field -> wire type (0 varint, 2 length-delimited)
MODEL_FIELDS: Final[dict[int, int]] = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
STRING_FIELDS: Final = frozenset({2, 3, 4})  # producer_name, producer_version, domain: short text
MAX_IR_VERSION: Final = 64
MAX_NAME_BYTES: Final = 1024
TEXT_EXTENSIONS: Final = (".onnxtxt", ".onnxtext")
BINARY_EXTENSIONS: Final = (".onnx", ".pb")


def probe_model_head(head: bytes) -> float:
    """How strongly the first bytes look like a ModelProto: 0 no, 0.3 plausible, 1.0 graph field seen."""
    if not head:
        return 0.0
    data = memoryview(head)
    end = len(head)
    pos = 0
    seen_ir_version = False
    try:
        while pos < end:
            key, pos = read_varint(data, pos, end)
            field, wire_type = key >> 3, key & 7
            if MODEL_FIELDS.get(field) != wire_type:
                return 0.0
            if wire_type == 0:
                value, pos = read_varint(data, pos, end)
                if field == 1:
                    if not 1 <= value <= MAX_IR_VERSION:
                        return 0.0
                    seen_ir_version = True
                continue
            length, pos = read_varint(data, pos, end)
            if field == 7:
                return 1.0 if seen_ir_version else 0.6
            if field in STRING_FIELDS:
                if length > MAX_NAME_BYTES:
                    return 0.0
                text = bytes(data[pos : min(pos + length, end)])
                try:
                    text.decode("utf-8")
                except UnicodeDecodeError:
                    if pos + length <= end:
                        return 0.0
                    # cut by the head in the middle of a character: fine
            pos += length
    except WireError:
        pass  # ran past the head; judge what was seen
    return 0.3 if seen_ir_version else 0.0


def looks_like_text_model(head: bytes) -> bool:
    """ONNX's textual syntax: ``<ir_version: 8, ...>`` header or ``name (inputs) => (outputs)``."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    stripped = text.lstrip()
    return (stripped.startswith("<") and "ir_version" in text) or "=>" in text


def claim_confidence(path: Path, head: bytes) -> tuple[str, float] | None:
    """(``"binary"`` or ``"text"``, confidence) when the file is ONNX, else None."""
    name = path.name.lower()
    if name.endswith(TEXT_EXTENSIONS):
        return ("text", 0.9) if looks_like_text_model(head) else None
    score = probe_model_head(head)
    if score == 0.0:
        return None
    if name.endswith(BINARY_EXTENSIONS) and score < 1.0:
        score = 0.8 if name.endswith(".onnx") else score
    return "binary", score
