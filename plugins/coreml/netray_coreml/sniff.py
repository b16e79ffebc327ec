"""Cheap recognition of Core ML files and packages, for ``netray_sniff``: never raises."""

from __future__ import annotations

import re
from pathlib import Path

from netray_coreml.formats import FORMAT, MLMODEL_PATTERN, PACKAGE_FORMAT

MANIFEST = "Manifest.json"
DEFAULT_MODEL = Path("Data") / "com.apple.CoreML" / "model.mlmodel"
_MANIFEST_PROBE_BYTES = 64 * 1024
_PATTERN = re.compile(MLMODEL_PATTERN)


def claim_folder(path: Path) -> tuple[str, float] | None:
    """A package folder: its manifest names Core ML's items, or it holds the default model path."""
    try:
        manifest = path / MANIFEST
        if manifest.is_file():
            with open(manifest, "rb") as f:
                text = f.read(_MANIFEST_PROBE_BYTES)
            if b"rootModelIdentifier" in text and b"itemInfoEntries" in text:
                return PACKAGE_FORMAT, 1.0
        if (path / DEFAULT_MODEL).is_file():
            return PACKAGE_FORMAT, 0.9
        if path.name.lower().endswith(".mlpackage"):
            return PACKAGE_FORMAT, 0.3
    except OSError:
        return None
    return None


PACKAGE_DEPTH = 4  # Data/com.apple.CoreML/weights/weight.bin is the deepest file Core ML writes


def package_of(path: Path) -> Path | None:
    """The ``.mlpackage`` folder holding the file ``path`` (Manifest.json, the model, a weights file), if any."""
    for depth, folder in enumerate(path.parents):
        if depth >= PACKAGE_DEPTH:
            break
        found = claim_folder(folder)
        if found is not None and found[1] >= 0.9:
            return folder
    return None


def claim_file(path: Path, head: bytes) -> tuple[str, float] | None:
    """A file inside a package opens the package; a ``.mlmodel`` protobuf: its first bytes fit Model's
    layout, the extension settles it."""
    if package_of(path) is not None:
        return PACKAGE_FORMAT, 1.0
    named = path.name.lower().endswith(".mlmodel")
    if _PATTERN.match(head):
        return FORMAT, 1.0 if named else 0.6
    if named and head:
        return FORMAT, 0.1  # ours by name: reading it says precisely what is wrong
    return None
