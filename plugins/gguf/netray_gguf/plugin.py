"""The netray hooks of the GGUF plugin: declare, sniff, load, document the inferred operations."""

from __future__ import annotations

from pathlib import Path

import netray
from netray import Category, Claim, FormatInfo, Model, OpInfo
from netray_gguf.formats import FORMAT, FORMATS, SUPPORTED_VERSIONS
from netray_gguf.operators import OPERATORS
from netray_gguf.sniff import head_version

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

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
    """The magic ``GGUF`` with a version this plugin reads proves it; with another version it
    is plausible (the load then says which version); the extension alone hints."""
    found = head_version(head)
    if found is not None:
        return Claim(FORMAT, 1.0 if found[1] in SUPPORTED_VERSIONS else 0.5)
    if path.suffix.lower() in EXTENSIONS and head:
        return Claim(FORMAT, 0.1)
    return None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_gguf.reader import read_gguf  # numpy and the gguf package only when a file is read

    return read_gguf(path)


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    spec = OPERATORS.get(op)
    if spec is None:
        return None
    return OpInfo(category=Category(spec.category), summary=spec.summary, inputs=[(name, "") for name in spec.inputs])
