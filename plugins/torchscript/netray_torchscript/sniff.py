"""Recognising TorchScript archives: a zip whose top folder holds ``code/`` and ``data.pkl`` or ``constants.pkl``."""

from __future__ import annotations

import zipfile
from pathlib import Path

FORMAT = "PyTorch TorchScript"


def is_torchscript_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
    has_code: set[str] = set()
    has_data: set[str] = set()
    for name in names:
        parts = name.split("/")
        if len(parts) >= 3 and parts[1] == "code":
            has_code.add(parts[0])
        elif len(parts) == 2 and parts[1] in ("data.pkl", "constants.pkl"):
            has_data.add(parts[0])
    return bool(has_code & has_data)


EXTENSIONS = (".pt", ".pth", ".jit", ".ptl", ".torchscript")


def sniff(path: Path, head: bytes) -> float | None:
    """1.0 for a TorchScript archive; 0.2 for a zip named like one that zipfile cannot open
    (claimed so that loading says what is wrong); None otherwise."""
    if not path.is_file() or not head.startswith(b"PK\x03\x04"):
        return None
    if is_torchscript_zip(path):
        return 1.0
    if path.suffix.lower() in EXTENSIONS and not _opens(path):
        return 0.2
    return None


def _opens(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path):
            return True
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
