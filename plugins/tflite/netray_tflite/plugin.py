"""The netray hooks of the TFLite plugin: declare, sniff, load, document operators."""

from __future__ import annotations

from pathlib import Path

import netray
from netray import Category, Claim, FormatInfo, Model, OpInfo
from netray.runtime import Runtime, RuntimeMissing
from netray_tflite.formats import FORMATS
from netray_tflite.operators import CUSTOM_SPEC, FORMAT, OPERATORS

NETRAY_CONTRACT = "1.2"  # the plugin contract version these hooks were written for

EXTENSIONS = FORMATS[0].extensions


@netray.hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@netray.hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    """The flatbuffer file identifier "TFL3" at bytes 4..8 proves it; the extension alone hints."""
    if head[4:8] == b"TFL3":
        return Claim(FORMAT, 1.0)
    if path.suffix.lower() in EXTENSIONS and len(head) >= 8:
        return Claim(FORMAT, 0.1)
    return None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_tflite.reader import read_tflite  # the tflite package only when a file is read

    return read_tflite(path)


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    spec = CUSTOM_SPEC if domain == "custom" else OPERATORS.get(op)
    if spec is None:
        return None
    return OpInfo(category=Category(spec.category), summary=spec.summary, inputs=[(name, "") for name in spec.inputs])


RUNTIME_NAMES = ("", "litert", "tflite", "ai-edge-litert")


@netray.hookimpl
def netray_runtime(model: Model, name: str) -> Runtime | RuntimeMissing | None:
    """ai-edge-litert's interpreter with every tensor preserved (:mod:`netray_tflite.runtime`)."""
    if model.format != FORMAT or name not in RUNTIME_NAMES:
        return None
    from netray_tflite.runtime import INSTALL, PACKAGE, LiteRtRuntime, interpreter_class

    if interpreter_class() is None:
        return RuntimeMissing(runtime=PACKAGE, install=INSTALL)
    return LiteRtRuntime(model)
