"""The netray hooks of the MXNet plugin: formats, sniffing, loading, operator info."""

from __future__ import annotations

import struct
from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_mxnet.formats import FORMATS
from netray_mxnet.operators import lookup
from netray_mxnet.params import LIST_MAGIC
from netray_mxnet.symbol import FORMAT, load_params_only, load_symbol

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


def looks_like_symbol(head: bytes) -> bool:
    """A JSON object whose start lists nodes with op/inputs keys, as every MXNet version writes."""
    text = head.lstrip()
    return text[:1] == b"{" and b'"nodes"' in text and b'"op"' in text and b'"inputs"' in text


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    if len(head) >= 8 and struct.unpack_from("<Q", head)[0] == LIST_MAGIC:
        return Claim(FORMAT, 1.0)
    if looks_like_symbol(head):
        return Claim(FORMAT, 0.9 if path.name.endswith("-symbol.json") else 0.7)
    return None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) == 8 and struct.unpack("<Q", head)[0] == LIST_MAGIC:
        return load_params_only(path)
    return load_symbol(path)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    found = lookup(op)
    if found is None:
        return None
    return OpInfo(category=found[0], summary=found[1])
