"""The first eight bytes of a GGUF file: magic and version, in either byte order (no imports beyond the stdlib)."""

from __future__ import annotations

import struct


def head_version(head: bytes) -> tuple[str, int] | None:
    """(struct byte order ``"<"`` or ``">"``, version) of a GGUF head, or None without the magic.

    The magic reads the same in either order; a version whose low half is zero read
    little-endian is a big-endian file (llama.cpp's and the gguf package's rule too).
    """
    if len(head) < 8 or head[:4] != b"GGUF":
        return None
    (version,) = struct.unpack_from("<I", head, 4)
    if version & 0xFFFF == 0 and version != 0:
        (version,) = struct.unpack_from(">I", head, 4)
        return ">", int(version)
    return "<", int(version)
