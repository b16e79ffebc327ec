"""The netray hooks of the ONNX plugin: formats, sniff, load, in-memory ModelProto, operator docs.

Three formats: binary ONNX, ONNX's text syntax, and ONNX Runtime's ORT flatbuffer (``ort.py``),
which is read into the same IR as ONNX.

Every plugin is imported at start-up and most files opened are not ONNX, so the
reader is imported when an ONNX file is read. Reading a binary file does not import
the onnx package at all (see proto.py and schemas.py); the text syntax, operator
docs and models made by a newer ONNX than the plugin's tables do.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_onnx.formats import FORMAT, FORMATS, ORT_FORMAT, TEXT_FORMAT
from netray_onnx.sniff import claim_confidence

if TYPE_CHECKING:
    from netray.runtime import Runtime, RuntimeMissing

NETRAY_CONTRACT = "1.2"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    if not head:
        return None
    if head[4:8] == b"ORTM":
        return Claim(ORT_FORMAT, 1.0)
    if path.name.lower().endswith(".ort"):
        return Claim(ORT_FORMAT, 0.1)
    found = claim_confidence(path, head)
    if found is None:
        return None
    kind, confidence = found
    return Claim(TEXT_FORMAT if kind == "text" else FORMAT, confidence)


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    from netray_onnx.loader import load_binary, load_text

    if format == FORMAT:
        return load_binary(path)
    if format == TEXT_FORMAT:
        return load_text(path)
    if format == ORT_FORMAT:
        from netray_onnx.ort import load_ort

        return load_ort(path)
    return None


@hookimpl
def netray_load_object(obj: Any, options: dict[str, Any]) -> Model | None:
    """An in-memory ``onnx.ModelProto``; ``base_dir=`` tells where its external data lives."""
    onnx = sys.modules.get("onnx")  # a ModelProto exists only where onnx was imported
    if onnx is None or not isinstance(obj, onnx.ModelProto):
        return None
    from netray_onnx.loader import read_proto

    base = options.get("base_dir")
    return read_proto(obj, None, Path(base) if base is not None else None, "<onnx.ModelProto>")


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format not in (FORMAT, TEXT_FORMAT, ORT_FORMAT):
        return None
    from netray_onnx import opdocs

    return opdocs.operator_info(domain, op)


@hookimpl
def netray_runtime(model: Model, name: str) -> Runtime | RuntimeMissing | None:
    """onnxruntime (CPU) for "", onnx's reference evaluator for "reference"; ONNX and its text syntax.

    Both capture every value of the main graph (netray_onnx.runtime); onnxruntime's backward
    goes through onnx2torch (netray_onnx.autograd).
    """
    if model.format not in (FORMAT, TEXT_FORMAT) or name not in ("", "onnxruntime", "reference"):
        return None
    if name == "reference":
        from netray_onnx.runtime import ReferenceRuntime

        return ReferenceRuntime(model)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        from netray.runtime import RuntimeMissing

        return RuntimeMissing(runtime="onnxruntime", install="pip install netray-plugin-onnx[run]")
    from netray_onnx.runtime import OrtRuntime

    return OrtRuntime(model)
