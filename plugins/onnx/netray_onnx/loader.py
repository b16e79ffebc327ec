"""Opening ONNX files: binary (structure only, weights left in the file) and text syntax."""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from netray import FormatError, Model
from netray.propagate import propagate
from netray_onnx import proto as onnx_proto
from netray_onnx.inference import fill_shapes
from netray_onnx.reader import ModelReader
from netray_onnx.wire import WireError, structure_bytes

if TYPE_CHECKING:
    import onnx  # annotations only: netray_onnx.proto's messages have onnx's fields (see reader.py)

FORMAT = "ONNX"
MAX_TEXT_BYTES = 256 * 1024 * 1024
MAX_INFERRED_IN_MEMORY = 256 * 1024 * 1024  # an in-memory ModelProto is serialized for inference up to this size
# What a malformed proto can make the reader raise; each becomes a FormatError.
_READ_ERRORS = (ValueError, KeyError, IndexError, TypeError, OverflowError, RecursionError, UnicodeDecodeError)


def file_structure(path: Path) -> bytes:
    """The file's ModelProto bytes with large raw_data left out (see wire.py)."""
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            raise FormatError(path, FORMAT, "the file is empty")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return structure_bytes(mm)
    except WireError as exc:
        raise FormatError(path, FORMAT, f"not a valid ONNX protobuf: {exc}") from None
    except RecursionError:
        raise FormatError(path, FORMAT, "messages nested too deeply") from None
    finally:
        try:
            mm.close()
        except BufferError:  # a view is still alive in a traceback; the map closes when it goes
            pass


def parse_model(path: Path, data: bytes) -> onnx.ModelProto:
    """Parse with netray_onnx.proto's ModelProto (no onnx import); typed as onnx's, whose fields it has."""
    try:
        proto: onnx.ModelProto = onnx_proto.ModelProto.FromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise FormatError(path, FORMAT, f"not a valid ONNX protobuf: {exc}") from None
    if not proto.HasField("graph"):
        raise FormatError(path, FORMAT, "the file holds no graph (not an ONNX model, or a truncated one)")
    return proto


def read_proto(
    proto: onnx.ModelProto, path: Path | None, base_dir: Path | None, origin: str | Path, structure: bytes | None = None
) -> Model:
    """Convert a parsed ModelProto, turning any failure on malformed content into a FormatError.

    ``structure`` is the proto's serialized form (large weights may be left out): with it, the
    shapes the file leaves open are inferred (netray_onnx.inference).
    """
    try:
        model = ModelReader(path, base_dir).read(proto)
    except FormatError:
        raise
    except _READ_ERRORS as exc:
        raise FormatError(origin, FORMAT, f"malformed model: {type(exc).__name__}: {exc}") from None
    if structure is None and proto.ByteSize() <= MAX_INFERRED_IN_MEMORY:
        structure = proto.SerializeToString()
    if model.graphs:
        failure = fill_shapes(model.main, structure) if structure is not None else "the model in memory is too large"
        if failure:
            model.properties["shape inference"] = f"not done: {failure}"
        # What onnx's inference leaves open (sizes computed at run time from named dimensions,
        # Range over a sequence length): the shared propagation follows those by name.
        if any(v.type.shape is None or None in v.type.shape for n in model.main.nodes for v in n.output_values()):
            propagate(model.main)
    return model


def load_binary(path: Path) -> Model:
    structure = file_structure(path)
    proto = parse_model(path, structure)
    model = read_proto(proto, path, path.parent, path, structure)
    model.source = path
    return model


def load_text(path: Path) -> Model:
    """ONNX's textual syntax (``onnx.parser``); tensors are inline, so nothing is lazy."""
    size = path.stat().st_size
    if size == 0:
        raise FormatError(path, FORMAT, "the file is empty")
    if size > MAX_TEXT_BYTES:
        raise FormatError(path, FORMAT, f"text model of {size} bytes is larger than {MAX_TEXT_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(path, FORMAT, f"text model is not UTF-8: {exc}") from None
    import onnx.parser  # the text syntax needs onnx itself

    try:
        proto = onnx.parser.parse_model(text)
    except Exception as exc:  # onnx.parser.ParseError and friends
        reason = " ".join(str(exc).split())[:200]
        raise FormatError(path, FORMAT, f"not valid ONNX text syntax: {reason}") from None
    model = read_proto(proto, None, path.parent, path)
    model.source = path
    model.properties["syntax"] = "text"
    return model
