"""Cheap content checks: is this an IR topology, or the weights file of one?"""

from __future__ import annotations

import re
from pathlib import Path

# The <net ...> root after the XML declaration and comments, with a version attribute.
NET_ROOT = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<net(?=[\s>/])[^>]*>", re.DOTALL)
# A DTD before the root: never written by OpenVINO, claimed so that loading can refuse it by name.
DOCTYPE = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<!DOCTYPE\b", re.DOTALL)
VERSION = re.compile(rb"\bversion\s*=\s*[\"']\s*\d+")
BOM = b"\xef\xbb\xbf"


def ir_confidence(head: bytes) -> float:
    """1.0 for a ``<net version="N">`` root followed by ``<layers>``; 0.7 for the root alone; 0.5 for a
    DTD followed by ``<net``; 0.0 otherwise."""
    text = head[len(BOM) :] if head.startswith(BOM) else head
    match = NET_ROOT.match(text)
    if match is None:
        return 0.5 if DOCTYPE.match(text) and re.search(rb"<net[\s>/]", text) else 0.0
    if VERSION.search(match.group(0)) and re.search(rb"<layers\s*>|<layer\s", text):
        return 1.0
    return 0.7


def xml_beside(path: Path) -> Path | None:
    """For a ``.bin``, the IR topology of the same name beside it."""
    if path.suffix.lower() != ".bin":
        return None
    xml = path.with_suffix(".xml")
    try:
        if not xml.is_file():
            return None
        with open(xml, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    return xml if ir_confidence(head) >= 0.7 else None
