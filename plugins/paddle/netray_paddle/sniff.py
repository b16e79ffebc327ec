"""Is a file Paddle's? Decided from its first bytes, cheaply, without protobuf or JSON parsing."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from netray_paddle.formats import PARAMS, PIR, PROGRAM, PROGRAM_PATTERN

PROGRAM_RE = re.compile(PROGRAM_PATTERN)
PIR_RE = re.compile(rb'\A\s*\{\s*"base_code"\s*:\s*\{[^}]*"magic"\s*:\s*"pir"')
PIR_LOOSE = re.compile(rb'"base_code"\s*:\s*\{')
KNOWN_DTYPES = frozenset({0, 1, 2, 3, 4, 5, 6, 19, 20, 21, 22, 23, 24, 32, 33, 36, 37, 38})


def tensor_header(head: bytes) -> bool:
    """The head starts like a serialized tensor: versions 0, a few LoD levels, a TensorDesc with a known type."""
    if len(head) < 22:
        return False
    version, levels = struct.unpack_from("<IQ", head)
    if version != 0 or levels > 8:
        return False
    pos = 12
    for _ in range(levels):
        if pos + 8 > len(head):
            return False
        (nbytes,) = struct.unpack_from("<Q", head, pos)
        pos += 8 + nbytes
        if nbytes % 8 or pos > len(head):
            return False
    if pos + 8 > len(head):
        return False
    tensor_version, desc_size = struct.unpack_from("<Ii", head, pos)
    desc = head[pos + 8 : pos + 8 + desc_size]
    # TensorDesc: field 1 (data_type, varint) then field 2 dims (varints, or packed).
    return (
        tensor_version == 0
        and 2 <= desc_size <= 1024
        and len(desc) >= 2
        and desc[0] == 0x08
        and desc[1] in KNOWN_DTYPES
        and (len(desc) == 2 or desc[2] in (0x10, 0x12))
    )


def sniff(path: Path, head: bytes) -> tuple[str, float] | None:
    try:
        if not head:
            return None
        name = path.name.lower()
        if PROGRAM_RE.match(head):
            return PROGRAM, 1.0
        if PIR_RE.match(head):
            return PIR, 1.0
        if PIR_LOOSE.search(head[:256]) and name.endswith(".json"):
            return PIR, 0.6
        if tensor_header(head):
            return PARAMS, 1.0 if name.endswith(".pdiparams") or name == "__params__" else 0.5
        return None
    except Exception:  # sniffing never raises
        return None
