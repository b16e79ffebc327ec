"""The netray hooks of the safetensors plugin: declare, sniff, load.

safetensors holds weights only, so there are no operators to document (no
``netray_operator_info``). Readers are imported inside ``netray_load``: every plugin is
imported by every netray command.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import netray
from netray import Claim, FormatInfo, Model
from netray_safetensors.formats import FORMAT, FORMATS, INDEX_FORMAT

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

MAX_HEADER = 100_000_000  # as header.MAX_HEADER, repeated so that sniffing imports no reader
_JSON_OPEN = re.compile(rb"\{\s*[\"}]")
_WEIGHT_MAP = re.compile(rb"\"weight_map\"\s*:\s*\{")


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
    """A header length that fits the file followed by a JSON object proves a .safetensors file;
    a JSON object whose weight_map names .safetensors files proves an index."""
    if not head:  # a folder, or an empty file (the core reports those itself)
        return None
    name = path.name.lower()
    if name.endswith(".json"):
        return _sniff_index(name, head)
    if len(head) >= 10 and head[4:8] == b"\x00\x00\x00\x00" and _JSON_OPEN.match(head, 8):
        (length,) = struct.unpack("<Q", head[:8])
        try:
            size = os.path.getsize(path)
        except OSError:
            return None
        if 2 <= length <= min(MAX_HEADER, size - 8):
            return Claim(FORMAT, 1.0)
        return Claim(FORMAT, 0.6)  # the start fits but the length does not: load says what is wrong
    if name.endswith(".safetensors"):
        return Claim(FORMAT, 0.1)
    return None


def _sniff_index(name: str, head: bytes) -> Claim | None:
    named = name.endswith(".safetensors.index.json")
    body = head.lstrip()
    if not body.startswith(b"{"):
        return Claim(INDEX_FORMAT, 0.1) if named else None
    if _WEIGHT_MAP.search(body):
        if named or b'.safetensors"' in body:
            return Claim(INDEX_FORMAT, 1.0)
        return None  # pytorch_model.bin.index.json and the like: an index of other shards
    if named:
        return Claim(INDEX_FORMAT, 0.5)  # a JSON object; weight_map may lie past the first 4 KiB
    return None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format == FORMAT:
        from netray_safetensors.reader import read_file

        return read_file(path)
    if format == INDEX_FORMAT:
        from netray_safetensors.reader import read_sharded

        return read_sharded(path)
    return None
