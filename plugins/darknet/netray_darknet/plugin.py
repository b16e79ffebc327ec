"""The netray hooks of the Darknet plugin: formats, sniffing, loading, operator info."""

from __future__ import annotations

import re
from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_darknet.formats import FORMAT, FORMATS

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

FIRST_SECTION = re.compile(rb"\A(?:\s*(?:[#;][^\n]*)?\n)*\s*\[\s*(net|network)\s*\]", re.IGNORECASE)
SECTION = re.compile(rb"^\s*\[\s*([A-Za-z_0-9]+)\s*\]", re.MULTILINE)
DARKNET_KEYS = (b"width", b"height", b"channels", b"filters", b"activation", b"batch", b"subdivisions")


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


def weights_beside(path: Path, suffix: str) -> bool:
    try:
        return path.with_suffix(suffix).is_file()
    except (OSError, ValueError):
        return False


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    """A cfg whose first section is [net] proves itself; a .weights is Darknet's when a cfg sits beside it."""
    if not head:
        return None
    name = path.name.lower()
    if name.endswith(".weights"):
        if weights_beside(path, ".cfg"):
            return Claim(FORMAT, 0.9)
        return Claim(FORMAT, 0.3) if len(head) >= 20 else None
    if b"\x00" in head:
        return None
    if FIRST_SECTION.match(head):
        from netray_darknet.operators import SECTIONS, canonical

        names = {canonical(m.decode("ascii", "replace")) for m in SECTION.findall(head)}
        known = names & SECTIONS.keys()
        if known or any(key + b"=" in head.replace(b" ", b"") for key in DARKNET_KEYS):
            return Claim(FORMAT, 1.0)
        return Claim(FORMAT, 0.6)
    return None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_darknet.reader import load

    return load(path)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    from netray_darknet.operators import lookup

    spec = lookup(op)
    if spec is None:
        return None
    attributes = [
        (key, f"{kind}, default {default}" if default is not None else kind) for key, kind, default in spec.keys
    ]
    doc = spec.summary + (f"\n\nOnly {spec.dialect}/darknet reads this section." if spec.dialect else "")
    return OpInfo(category=spec.category, summary=spec.summary, doc=doc, attributes=attributes)
