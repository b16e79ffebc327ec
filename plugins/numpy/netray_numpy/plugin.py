"""The netray hooks of the NumPy plugin: declare, sniff, load.

``.npy`` and ``.npz`` hold arrays only, so there are no operators to document. Readers are
imported inside ``netray_load``: every plugin is imported by every netray command.
"""

from __future__ import annotations

import struct
from pathlib import Path

import netray
from netray import Claim, FormatInfo, Model
from netray_numpy.formats import FORMATS, NPY_FORMAT, NPY_MAGIC, NPZ_FORMAT

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

_LOCAL_HEADER = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"
_NAME_AT = 30  # a zip local header's fixed part; the member's name follows


@netray.hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@netray.hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    """The .npy magic proves an array; a zip whose first member is a ``.npy`` proves an archive."""
    if not head:
        return None
    name = path.name.lower()
    if head.startswith(NPY_MAGIC):
        return Claim(NPY_FORMAT, 1.0)
    if head.startswith(_LOCAL_HEADER) and len(head) >= _NAME_AT:
        (length,) = struct.unpack_from("<H", head, 26)
        first = head[_NAME_AT : _NAME_AT + length]
        if len(first) == length and first.endswith(b".npy"):
            return Claim(NPZ_FORMAT, 1.0)
        return Claim(NPZ_FORMAT, 0.5) if name.endswith(".npz") else None
    if name.endswith(".npz"):
        return Claim(NPZ_FORMAT, 0.5 if head.startswith(_EMPTY_ZIP) else 0.1)
    if name.endswith(".npy"):
        return Claim(NPY_FORMAT, 0.1)
    return None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format == NPY_FORMAT:
        from netray_numpy.reader import read_npy

        return read_npy(path)
    if format == NPZ_FORMAT:
        from netray_numpy.reader import read_npz

        return read_npz(path)
    return None
