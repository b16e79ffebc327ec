"""Recognising PyTorch files by content: zip layouts, the legacy magic number, pickle protocol bytes."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from netray_pytorch.zipstore import zip_is_whole

EXPORTED_PROGRAM = "PyTorch ExportedProgram"
STATE_DICT = "PyTorch state_dict"

# torch.save's legacy (pre-zip) format starts with this number, pickled.
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
MAGIC_PICKLE = b"\x80\x02\x8a\x0a" + MAGIC_NUMBER.to_bytes(10, "little")

_PICKLE_EXTENSIONS = (".pt", ".pth", ".pkl", ".bin", ".ckpt", ".tar")


def zip_kind(path: Path) -> str | None:
    """Which PyTorch zip layout ``path`` has: ExportedProgram, state_dict, or None (incl. TorchScript)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None
    if any(re.fullmatch(r"[^/]+/models/[^/]+\.json|([^/]+/)?serialized_exported_program\.json", n) for n in names):
        return EXPORTED_PROGRAM
    tops = {n.split("/", 1)[0] for n in names if n.endswith("/data.pkl") and n.count("/") == 1}
    if not tops:
        return None
    if any(n.split("/", 1)[0] in tops and n.split("/")[1] in ("code", "constants.pkl") for n in names if "/" in n):
        return None  # TorchScript: its own plugin
    return STATE_DICT


def sniff(path: Path, head: bytes) -> tuple[str, float] | None:
    if not path.is_file():
        return None
    if head.startswith(b"PK\x03\x04"):
        if not zip_is_whole(path) and path.suffix.lower() in (*_PICKLE_EXTENSIONS, ".pt2"):
            return STATE_DICT, 0.3  # a cut torch archive: claimed so that loading says what is wrong
        kind = zip_kind(path)
        return (kind, 1.0) if kind else None
    if head.startswith(MAGIC_PICKLE):
        return STATE_DICT, 1.0
    # A bare pickle (protocol 2-5): only claim it when the extension agrees, it proves little.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and path.suffix.lower() in _PICKLE_EXTENSIONS:
        return STATE_DICT, 0.5
    return None
