"""The netray hooks of the ExecuTorch plugin: declare, sniff, load, document operators."""

from __future__ import annotations

import re
from pathlib import Path

import netray
from netray import Category, Claim, FormatInfo, Model, OpInfo
from netray_executorch.formats import FORMAT, FORMATS

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

EXTENSIONS = FORMATS[0].extensions


@netray.hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@netray.hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    """"ET12" at bytes 4..8 proves it; another "ETnn" there is an ExecuTorch schema this plugin names in its error."""
    if len(head) < 8:
        return None
    if head[4:8] == b"ET12":
        return Claim(FORMAT, 1.0)
    root = int.from_bytes(head[0:4], "little")
    if re.fullmatch(rb"ET\d\d", head[4:8]) and 8 <= root < 1 << 31 and path.suffix.lower() in EXTENSIONS:
        return Claim(FORMAT, 0.5)
    if path.suffix.lower() in EXTENSIONS:
        return Claim(FORMAT, 0.1)
    return None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_executorch.reader import read_pte  # the reader only when a file is read

    return read_pte(path)


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    from netray_executorch.operators import lookup
    from netray_executorch.schemas import SCHEMAS

    found = lookup(op, domain)
    schema = SCHEMAS.get(op) if domain != "xnnpack" else None
    if found is None and schema is None:
        return None
    category, summary = found if found is not None else ("other", "")
    info = OpInfo(category=Category(category), summary=summary)
    if schema is not None:
        words = schema[0].split()
        info.inputs = [(w.lstrip("*"), "") for w in words if not w.endswith("!")]
        info.outputs = [(w.lstrip("*").rstrip("!"), "") for w in words if w.endswith("!")]
        info.doc = f"schema: {op}({', '.join(w.lstrip('*').rstrip('!') for w in words)})"
    return info
