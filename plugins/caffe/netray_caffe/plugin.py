"""The netray hooks of the Caffe plugin: formats, sniffing, loading, operator info."""

from __future__ import annotations

from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_caffe.formats import FORMAT, FORMATS
from netray_caffe.sniff import sniff

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    confidence = sniff(path, head)
    return Claim(FORMAT, confidence) if confidence else None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_caffe.reader import load

    return load(path)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    from netray_caffe.operators import lookup

    found = lookup(op)
    if found is None:
        return None
    return OpInfo(category=found[0], summary=found[1])
